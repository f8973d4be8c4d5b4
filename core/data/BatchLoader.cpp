#include "data/BatchLoader.h"

#include <algorithm>
#include <numeric>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/types.h>

#include "common/Error.h"
#include "io/ImageIO.h"

namespace biasscope::data {

std::vector<std::size_t> epochOrder(std::size_t n, std::uint64_t seed, std::uint64_t epoch, bool shuffle) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (shuffle) {
        std::mt19937_64 rng = sampleRng(seed, epoch, ~std::uint64_t{0});
        std::shuffle(order.begin(), order.end(), rng);
    }
    return order;
}

BatchLoader::BatchLoader(const LabelledImages& data, const LoaderOptions& o) : data_(data), o_(o) {
    if (o.batchSize < 1) throw InputError("batch size must be >= 1");
    order_ = epochOrder(data.size(), o.seed, o.epoch, o.shuffle);
    const std::size_t b = static_cast<std::size_t>(o.batchSize);
    batchCount_ = o.dropLast ? data.size() / b : (data.size() + b - 1) / b;
    const int workers = std::max(1, o.workers);
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

BatchLoader::~BatchLoader() {
    {
        std::lock_guard<std::mutex> lock(m_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

Batch BatchLoader::build(std::size_t bi) {
    const std::size_t start = bi * static_cast<std::size_t>(o_.batchSize);
    const std::size_t end = std::min(order_.size(), start + static_cast<std::size_t>(o_.batchSize));
    const auto s = static_cast<std::int64_t>(o_.transform.size);
    at::Tensor pixels = torch::empty({static_cast<std::int64_t>(end - start), 3, s, s}, torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(o_.pinMemory));
    std::vector<std::int64_t> labels;
    Batch batch;
    std::int64_t row = 0;
    for (std::size_t k = start; k < end; ++k) {
        const std::size_t idx = order_[k];
        const std::string& file = data_.files[idx];
        cv::Mat bgr;
        try {
            bgr = io::readImageFile(file, cv::IMREAD_COLOR);
        } catch (const Error& e) {
            std::string why = e.what();
            if (why.rfind(file + ": ", 0) == 0) why = why.substr(file.size() + 2);
            std::lock_guard<std::mutex> lock(m_);
            unreadable_.emplace_back(file, why);
            continue;
        }
        cv::Mat rgb;
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
        float* dst = pixels[row].data_ptr<float>();
        if (o_.augment) {
            std::mt19937_64 rng = sampleRng(o_.seed, o_.epoch, idx);
            trainTransform(rgb, o_.transform, rng, dst);
        } else {
            evalTransform(rgb, o_.transform, dst);
        }
        labels.push_back(data_.labels[idx]);
        batch.indices.push_back(idx);
        ++row;
    }
    batch.pixels = row == pixels.size(0) ? pixels : pixels.narrow(0, 0, row);
    batch.labels = torch::tensor(labels, torch::kInt64);
    return batch;
}

void BatchLoader::work() {
    const std::size_t limit = static_cast<std::size_t>(std::max(1, o_.prefetch) * std::max(1, o_.workers));
    for (;;) {
        std::size_t bi;
        {
            std::unique_lock<std::mutex> lock(m_);
            cv_.wait(lock, [&] { return stop_ || nextToBuild_ >= batchCount_ || nextToBuild_ < nextToServe_ + limit; });
            if (stop_ || nextToBuild_ >= batchCount_) return;
            bi = nextToBuild_++;
        }
        try {
            Batch b = build(bi);
            std::lock_guard<std::mutex> lock(m_);
            ready_.emplace(bi, std::move(b));
        } catch (...) {
            std::lock_guard<std::mutex> lock(m_);
            if (!error_) error_ = std::current_exception();
        }
        cv_.notify_all();
    }
}

std::optional<Batch> BatchLoader::next() {
    std::unique_lock<std::mutex> lock(m_);
    if (nextToServe_ >= batchCount_) return std::nullopt;
    cv_.wait(lock, [&] { return error_ || ready_.count(nextToServe_); });
    if (error_) std::rethrow_exception(error_);
    Batch b = std::move(ready_.at(nextToServe_));
    ready_.erase(nextToServe_++);
    lock.unlock();
    cv_.notify_all();
    return b;
}

std::vector<std::pair<std::string, std::string>> BatchLoader::unreadable() const {
    std::lock_guard<std::mutex> lock(m_);
    return unreadable_;
}

LoaderOptions epochLoaderOptions(bool train, int batchSize, int workers, std::uint64_t seed, std::uint64_t epoch, const TransformOptions& transform,
                                 bool pinMemory) {
    LoaderOptions lo;
    lo.batchSize = batchSize;
    lo.workers = workers;
    lo.augment = train;
    lo.shuffle = train;
    lo.seed = seed;
    lo.epoch = epoch;
    lo.transform = transform;
    lo.pinMemory = pinMemory;
    return lo;
}

}  // namespace biasscope::data
