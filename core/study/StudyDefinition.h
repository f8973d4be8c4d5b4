#pragma once
// A study file (JSON, docs/study-format.md): models and heads, image sets, targets, sites, rule,
// readout and analysis parameters. Relative paths are relative to the study file.
#include <string>
#include <vector>

#include "explain/RelevanceEngine.h"

namespace biasscope::study {

struct HeadSpec {
    std::string name, path, config;  // config may be empty
};

struct TargetSpec {
    std::string name, head;
    int classIndex = 0;
};

struct ImageSetSpec {
    std::string name, folder, condition;  // condition: unmasked | masked
    std::string referenceTarget;           // the set's own gender target (reference of similarity, top-k)
};

struct StudyDefinition {
    std::string name, sourcePath;
    std::string importedFrom;  // set by `study import-published`: a top-k-only store, no heads (PublishedImport.h)
    std::vector<HeadSpec> heads;  // the first head's file provides the backbone; the others must share it
    std::vector<ImageSetSpec> sets;
    std::vector<TargetSpec> targets;
    explain::RelevanceOptions relevance;
    double confidenceThreshold = 0.9;
    int topK = 5;

    const TargetSpec& target(const std::string& name) const;
    // Hash of everything that changes stored relevance (rule, readout, sites, gamma, targets, heads).
    std::string parametersKey() const;
};

// Throws InputError naming the file and the field.
StudyDefinition readStudyDefinition(const std::string& path);

}  // namespace biasscope::study
