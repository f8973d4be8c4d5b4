#pragma once
// Multi-threaded batch loader: worker threads decode (OpenCV) and transform whole batches ahead of
// the consumer (bounded prefetch); batches come out in order, so results do not depend on the number
// of workers. Unreadable images are skipped and reported, never replaced by black images. On CUDA the
// batch is allocated in pinned memory for an asynchronous copy.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "data/Datasets.h"
#include "data/Transforms.h"

namespace biasscope::data {

struct Batch {
    at::Tensor pixels;  // [B, 3, size, size] float32
    at::Tensor labels;  // [B] int64
    std::vector<std::size_t> indices;  // dataset indices of the rows
};

struct LoaderOptions {
    int batchSize = 128;
    int workers = 4;
    int prefetch = 2;  // batches per worker kept ready
    bool augment = true;
    bool shuffle = true;
    bool dropLast = false;
    bool pinMemory = false;
    std::uint64_t seed = 42, epoch = 0;
    TransformOptions transform;
};

class BatchLoader {
public:
    BatchLoader(const LabelledImages& data, const LoaderOptions& options);
    ~BatchLoader();
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    std::optional<Batch> next();  // nullopt at the end of the epoch
    std::size_t batches() const { return batchCount_; }
    // images that could not be decoded so far: (file, reason)
    std::vector<std::pair<std::string, std::string>> unreadable() const;

private:
    void work();
    Batch build(std::size_t batchIndex);

    const LabelledImages& data_;
    LoaderOptions o_;
    std::vector<std::size_t> order_;
    std::size_t batchCount_ = 0;
    std::atomic<std::size_t> nextToBuild_{0};
    std::size_t nextToServe_ = 0;
    std::map<std::size_t, Batch> ready_;
    std::vector<std::pair<std::string, std::string>> unreadable_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::exception_ptr error_;
    std::vector<std::thread> threads_;
};

// The loader of a training run's epoch: augmented and shuffled per epoch (train) or the evaluation
// transform in file order; pinned memory when the batches go to a GPU.
LoaderOptions epochLoaderOptions(bool train, int batchSize, int workers, std::uint64_t seed, std::uint64_t epoch, const TransformOptions& transform,
                                 bool pinMemory);

// Epoch order: a seeded shuffle of 0..n-1 (std::mt19937_64 from seed and epoch), or identity.
std::vector<std::size_t> epochOrder(std::size_t n, std::uint64_t seed, std::uint64_t epoch, bool shuffle);

}  // namespace biasscope::data
