#pragma once
// The per-neuron tests of a study's analysis (docs/statistics.md, docs/study-format.md):
//   neuron_tests.safetensors: every family (one comparison of one set or condition and site) as arrays
//     [layers, neurons] of t, dof, d, mean1, mean2 (float32) and p, q (float64); NaN p: not testable;
//     the families' names, test kind and image counts in the metadata ("families", JSON);
//   neuron_tests_significant.csv: the neurons with q < 0.05, one row each, for pandas / R / a spreadsheet.
// Written by `study analyze` (writeNeuronTests), read by the explorer (readNeuronTests). One writer, one
// reader. A published-size study (17 labels, 12 layers, 3072 + 768 neurons, 4 sets) has about 4.8 million
// tests: binary keeps that at about 150 MB where CSV would take a gigabyte.
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "analysis/NeuronTests.h"

namespace biasscope::study {

struct NeuronTestFamily {
    std::string family;      // "paired" or "independent"
    std::string group;       // set (paired) or condition (independent)
    std::string site;        // "intermediate", "final", ...
    std::string comparison;  // "doctor vs gender_male", or the target of an independent test
    std::string test;        // "paired", or "student" / "welch" (independent: equal / unequal image counts)
    int layers = 0, neurons = 0;
    int n1 = 0, n2 = 0;      // images in the first and second sample
    std::vector<float> t, dof, d, mean1, mean2;  // [layer * neurons + neuron]
    std::vector<double> p, q;
    std::string key() const { return family + " · " + group + " · " + site + " · " + comparison; }
    std::size_t cell(int layer, int neuron) const { return static_cast<std::size_t>(layer) * static_cast<std::size_t>(neurons) + static_cast<std::size_t>(neuron); }
    bool significant(std::size_t cell, double alpha = 0.05) const { return q[cell] < alpha; }  // NaN q: never
};

// tests come from analysis::pairedNeuronTests / independentNeuronTests (layer-major, every neuron).
NeuronTestFamily makeNeuronTestFamily(const std::string& family, const std::string& group, const std::string& site, const std::string& comparison,
                                      const std::vector<analysis::NeuronTest>& tests);

// Both files, atomically. `significantCsv` empty: the table only.
void writeNeuronTests(const std::string& path, const std::string& significantCsv, const std::vector<NeuronTestFamily>& families);

// Throws InputError naming the file for a missing or corrupt file, a missing tensor or a shape that
// disagrees with the metadata.
std::vector<NeuronTestFamily> readNeuronTests(const std::string& path);

// Lookups for the explorer: a family by key, and every test of one neuron.
class NeuronTestIndex {
public:
    explicit NeuronTestIndex(std::vector<NeuronTestFamily> families);
    const std::vector<NeuronTestFamily>& families() const { return families_; }
    std::vector<std::string> keys() const;
    const NeuronTestFamily* family(const std::string& key) const;  // nullptr if unknown
    // (family index, cell) of every family of `site` that tests this neuron
    std::vector<std::pair<int, std::size_t>> ofNeuron(const std::string& site, int layer, int neuron) const;

private:
    std::vector<NeuronTestFamily> families_;
    std::map<std::string, int> byKey_;
};

}  // namespace biasscope::study
