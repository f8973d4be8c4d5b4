#pragma once
// neuron_tests.csv (docs/study-format.md, docs/statistics.md): one row per per-neuron test. Written by
// `study analyze` (appendNeuronTestRows), read by the explorer's volcano plot and profile
// (readNeuronTests). One writer, one reader.
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "analysis/NeuronTests.h"

namespace biasscope::study {

struct NeuronTestRow {
    std::string family;      // "paired" or "independent"
    std::string group;       // set (paired) or condition (independent)
    std::string site;        // "intermediate", "final", ...
    std::string comparison;  // "doctor vs male", or the target of an independent test
    int layer = 0, neuron = 0;
    int n1 = 0, n2 = 0;
    double t = 0, dof = 0, p = 0, q = 0, d = 0, mean1 = 0, mean2 = 0;
    bool significant = false;
    std::string test;  // "paired", "student", "welch"
    std::string invalidReason;
    std::string familyKey() const { return family + " · " + group + " · " + site + " · " + comparison; }
};

std::string neuronTestHeader();  // with its line break
void appendNeuronTestRows(std::string& csv, const std::string& family, const std::string& group, const std::string& site, const std::string& comparison,
                          const std::vector<analysis::NeuronTest>& tests);

// Throws InputError naming the file for a missing file, a missing column or an unreadable number.
std::vector<NeuronTestRow> readNeuronTests(const std::string& path);

// The table with lookups by family (volcano plot) and by neuron (the selected neuron's tests).
class NeuronTestIndex {
public:
    explicit NeuronTestIndex(std::vector<NeuronTestRow> rows);
    const std::vector<NeuronTestRow>& rows() const { return rows_; }
    const std::vector<std::string>& families() const { return families_; }  // familyKey()s in file order
    const std::vector<int>& family(const std::string& key) const;              // row indices; empty if unknown
    std::vector<int> ofNeuron(const std::string& site, int layer, int neuron) const;

private:
    std::vector<NeuronTestRow> rows_;
    std::vector<std::string> families_;
    std::map<std::string, std::vector<int>> byFamily_;
    std::map<std::tuple<std::string, int, int>, std::vector<int>> byNeuron_;
};

}  // namespace biasscope::study
