#pragma once
// Adam over a list of tensors (the models here are state dicts, not torch::nn modules), with the
// update of torch.optim.Adam (weight decay added to the gradient, L2) or torch.optim.AdamW
// (decoupled weight decay); amsgrad off. The moments are plain tensors so that a checkpoint can
// store and restore them.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/types.h>

namespace biasscope::train {

struct Adam {
    std::vector<at::Tensor*> params;
    std::vector<at::Tensor> m, v;
    std::int64_t step = 0;
    double lr = 1e-3, wd = 0, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    bool decoupled = false;  // true: AdamW

    void init() {
        m.clear();
        v.clear();
        for (auto* p : params) {
            m.push_back(torch::zeros_like(*p));
            v.push_back(torch::zeros_like(*p));
        }
    }
    // The moments as checkpoint tensors "adam_m/<i>", "adam_v/<i>" (CPU).
    void appendState(std::vector<std::pair<std::string, at::Tensor>>& out) const {
        for (std::size_t i = 0; i < m.size(); ++i) {
            out.emplace_back("adam_m/" + std::to_string(i), m[i].to(torch::kCPU).contiguous());
            out.emplace_back("adam_v/" + std::to_string(i), v[i].to(torch::kCPU).contiguous());
        }
    }
    // Restores the moments from checkpoint tensors and the step count; `get` throws naming the file.
    template <typename Get>
    void restoreState(const Get& get, std::int64_t steps) {
        torch::NoGradGuard ng;
        for (std::size_t i = 0; i < m.size(); ++i) {
            m[i].copy_(get("adam_m/" + std::to_string(i)));
            v[i].copy_(get("adam_v/" + std::to_string(i)));
        }
        step = steps;
    }
    // One step with the gradients in p.grad(); clears them afterwards.
    void update() {
        torch::NoGradGuard ng;
        ++step;
        const double bc1 = 1 - std::pow(b1, static_cast<double>(step)), bc2 = 1 - std::pow(b2, static_cast<double>(step));
        for (std::size_t i = 0; i < params.size(); ++i) {
            at::Tensor& p = *params[i];
            if (!p.grad().defined()) continue;
            at::Tensor g = p.grad();
            if (decoupled)
                p.mul_(1 - lr * wd);
            else if (wd != 0)
                g = g.add(p, wd);
            m[i].mul_(b1).add_(g, 1 - b1);
            v[i].mul_(b2).addcmul_(g, g, 1 - b2);
            const at::Tensor denom = (v[i].sqrt() / std::sqrt(bc2)).add_(eps);
            p.addcdiv_(m[i], denom, -lr / bc1);
            p.mutable_grad().zero_();
        }
    }
};

}  // namespace biasscope::train
