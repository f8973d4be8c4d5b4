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

std::vector<BootstrapCi> neuronConsistencyCi(const std::vector<std::vector<std::vector<int>>>& topK, const BootstrapOptions& options) {
    neuronConsistency(topK);  // the same checks
    const std::size_t layers = topK.front().size();
    // unique[layer][image]: that image's distinct top-k neurons
    std::vector<std::vector<std::vector<int>>> unique(layers, std::vector<std::vector<int>>(topK.size()));
    int maxNeuron = 0;
    for (std::size_t i = 0; i < topK.size(); ++i)
        for (std::size_t l = 0; l < layers; ++l) {
            auto u = topK[i][l];
            std::sort(u.begin(), u.end());
            u.erase(std::unique(u.begin(), u.end()), u.end());
            for (int n : u) {
                if (n < 0) throw InputError("negative neuron index in the top-k lists");
                maxNeuron = std::max(maxNeuron, n);
            }
            unique[l][i] = std::move(u);
        }
    std::vector<int> counts(static_cast<std::size_t>(maxNeuron) + 1, 0);
    auto statistic = [&](const std::vector<int>& idx) {
        std::vector<double> percent(layers);
        for (std::size_t l = 0; l < layers; ++l) {
            int best = 0;
            for (int i : idx)
                for (int n : unique[l][static_cast<std::size_t>(i)]) best = std::max(best, ++counts[static_cast<std::size_t>(n)]);
            for (int i : idx)
                for (int n : unique[l][static_cast<std::size_t>(i)]) counts[static_cast<std::size_t>(n)] = 0;
            percent[l] = 100.0 * best / static_cast<double>(idx.size());
        }
        return percent;
    };
    return bootstrapCi(static_cast<int>(topK.size()), statistic, options);
}

}  // namespace biasscope::analysis
