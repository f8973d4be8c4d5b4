#pragma once
// Progress reporting and cooperative cancellation for long jobs (relevance over a set, training).
#include <atomic>
#include <functional>
#include <string>

#include "common/Error.h"

namespace biasscope {

struct JobControl {
    std::function<void(double fraction, const std::string& stage)> progress;  // fraction in [0, 1]
    const std::atomic<bool>* cancel = nullptr;

    void report(double fraction, const std::string& stage) const {
        if (progress) progress(fraction, stage);
    }
    // Throws Cancelled if the user asked to stop; call between steps, never mid-write.
    void checkCancelled() const {
        if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    }
};

}  // namespace biasscope
