#include "analysis/NeuronConsistency.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "common/Error.h"

namespace biasscope::analysis {

std::vector<int> topKNeurons(const float* values, int n, int k, RankBy by) {
    std::vector<int> idx(static_cast<std::size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    auto key = [&](int i) { return by == RankBy::Magnitude ? std::fabs(values[i]) : values[i]; };
    const int m = std::min(k, n);
    std::partial_sort(idx.begin(), idx.begin() + m, idx.end(), [&](int a, int b) { return key(a) != key(b) ? key(a) > key(b) : a < b; });
    idx.resize(static_cast<std::size_t>(m));
    return idx;
}

std::vector<ConsistencyPoint> neuronConsistency(const std::vector<std::vector<std::vector<int>>>& topK) {
    if (topK.empty()) throw InputError("consistency needs at least one image (none passed the confidence threshold?)");
    const std::size_t layers = topK.front().size();
    for (const auto& img : topK)
        if (img.size() != layers) throw InputError("images have different numbers of layers (" + std::to_string(img.size()) + " vs " + std::to_string(layers) + ")");
    std::vector<ConsistencyPoint> out(layers);
    for (std::size_t l = 0; l < layers; ++l) {
        std::map<int, int> counts;
        for (const auto& img : topK) {
            std::vector<int> unique = img[l];
            std::sort(unique.begin(), unique.end());
            unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
            for (int n : unique) ++counts[n];
        }
        ConsistencyPoint& p = out[l];
        p.images = static_cast<int>(topK.size());
        for (const auto& [neuron, count] : counts)
            if (count > p.count) {
                p.count = count;
                p.neuron = neuron;
            }
        p.percent = 100.0 * p.count / p.images;
    }
    return out;
}

}  // namespace biasscope::analysis
