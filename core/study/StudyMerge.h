#pragma once
// `study merge`: the union of study stores computed apart (shards on machines without a shared disk,
// or an old store plus new images) into one store. All sources must come from the same study
// parameters (params_key) and model (model_key); a record present in several sources must be the same
// image (image_sha256). Records are copied atomically; the destination may already hold records.
#include <string>
#include <vector>

namespace biasscope::study {

struct MergeReport {
    int copied = 0;      // new in the destination
    int identical = 0;   // already there with the same bytes
    int equivalent = 0;  // already there, same image/model/parameters, other bytes (e.g. GPU nondeterminism); the existing one is kept
};

// Throws InputError naming both files on any conflict, before anything is copied.
MergeReport mergeStores(const std::vector<std::string>& sources, const std::string& outDir);

}  // namespace biasscope::study
