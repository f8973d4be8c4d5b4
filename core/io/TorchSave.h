#pragma once
// Reader for torch.save zip archives that hold a state dict. Own unpickler for the subset of pickle
// protocol 2-4 that torch.save writes for dicts of tensors: LibTorch 1.13's torch::pickle_load turns
// collections.OrderedDict into None, so it cannot read model.state_dict() files. Accepted: a dict
// or OrderedDict of name -> tensor (or nn.Parameter), optionally nested under "state_dict",
// "model" or "model_state_dict" (training checkpoints; other entries such as the epoch are
// ignored). A pickled nn.Module or any other object is refused with its class name.
#include <map>
#include <string>

#include <ATen/core/Tensor.h>

#include "common/Error.h"

namespace biasscope::io {

class TorchSaveError : public Error {
public:
    using Error::Error;
};

// Tensors (CPU, owned memory, stored dtype) by name; throws TorchSaveError naming the file.
std::map<std::string, at::Tensor> readTorchSaveStateDict(const std::string& path);

}  // namespace biasscope::io
