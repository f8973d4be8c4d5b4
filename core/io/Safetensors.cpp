#include "io/Safetensors.h"

#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "io/AtomicFile.h"

namespace biasscope::io {

namespace {

using Kind = SafetensorsError::Kind;

// Read-only memory mapping of a whole file, unmapped on destruction.
class MappedFile {
public:
    explicit MappedFile(const std::string& path) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw SafetensorsError(Kind::Io, path, std::string("cannot open: ") + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd_);
            throw SafetensorsError(Kind::Io, path, "not a regular file");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
            if (p == MAP_FAILED) {
                ::close(fd_);
                throw SafetensorsError(Kind::Io, path, std::string("cannot map: ") + std::strerror(errno));
            }
            data_ = static_cast<const std::uint8_t*>(p);
        }
    }
    ~MappedFile() {
        if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
        if (fd_ >= 0) ::close(fd_);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }

private:
    int fd_ = -1;
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

torch::ScalarType toScalarType(SafetensorsDType dtype) {
    switch (dtype) {
        case SafetensorsDType::F64: return torch::kFloat64;
        case SafetensorsDType::F32: return torch::kFloat32;
        case SafetensorsDType::F16: return torch::kFloat16;
        case SafetensorsDType::BF16: return torch::kBFloat16;
        case SafetensorsDType::I64: return torch::kInt64;
        case SafetensorsDType::I32: return torch::kInt32;
        case SafetensorsDType::I16: return torch::kInt16;
        case SafetensorsDType::I8: return torch::kInt8;
        case SafetensorsDType::U8: return torch::kUInt8;
        case SafetensorsDType::BOOL: return torch::kBool;
    }
    return torch::kFloat32;
}

SafetensorsDType fromScalarType(torch::ScalarType type, const std::string& path, const std::string& name) {
    switch (type) {
        case torch::kFloat64: return SafetensorsDType::F64;
        case torch::kFloat32: return SafetensorsDType::F32;
        case torch::kFloat16: return SafetensorsDType::F16;
        case torch::kBFloat16: return SafetensorsDType::BF16;
        case torch::kInt64: return SafetensorsDType::I64;
        case torch::kInt32: return SafetensorsDType::I32;
        case torch::kInt16: return SafetensorsDType::I16;
        case torch::kInt8: return SafetensorsDType::I8;
        case torch::kUInt8: return SafetensorsDType::U8;
        case torch::kBool: return SafetensorsDType::BOOL;
        default: break;
    }
    throw SafetensorsError(Kind::UnknownDType, path, "tensor '" + name + "' has a dtype safetensors cannot store");
}

}  // namespace

SafetensorsHeader readSafetensorsHeader(const std::string& path) {
    MappedFile file(path);
    return parseSafetensorsHeader(file.data(), file.size(), path);
}

SafetensorsContents readSafetensors(const std::string& path) {
    MappedFile file(path);
    SafetensorsHeader header = parseSafetensorsHeader(file.data(), file.size(), path);
    SafetensorsContents contents;
    contents.metadata = header.metadata;
    contents.tensors.reserve(header.entries.size());
    for (const auto& e : header.entries) {
        // Copy into owned, aligned memory: the data buffer gives no alignment guarantee.
        at::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(toScalarType(e.dtype)));
        if (e.end > e.begin) std::memcpy(t.data_ptr(), file.data() + header.dataOffset + e.begin, e.end - e.begin);
        contents.tensors.emplace_back(e.name, std::move(t));
    }
    return contents;
}

SafetensorsContents readSafetensorsSelected(const std::string& path, const std::vector<std::string>& names) {
    MappedFile file(path);
    SafetensorsHeader header = parseSafetensorsHeader(file.data(), file.size(), path);
    SafetensorsContents contents;
    contents.metadata = header.metadata;
    for (const auto& name : names) {
        const SafetensorsEntry* e = header.find(name);
        if (!e) throw SafetensorsError(Kind::InvalidEntry, path, "no tensor '" + name + "'");
        at::Tensor t = torch::empty(e->shape, torch::TensorOptions().dtype(toScalarType(e->dtype)));
        if (e->end > e->begin) std::memcpy(t.data_ptr(), file.data() + header.dataOffset + e->begin, e->end - e->begin);
        contents.tensors.emplace_back(name, std::move(t));
    }
    return contents;
}

void writeSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<at::Tensor> cpu;
    cpu.reserve(tensors.size());
    std::uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
        if (name == "__metadata__") throw SafetensorsError(Kind::InvalidEntry, path, "'__metadata__' is not a valid tensor name");
        if (header.contains(name)) throw SafetensorsError(Kind::InvalidEntry, path, "tensor name '" + name + "' used twice");
        at::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
        const auto dtype = fromScalarType(t.scalar_type(), path, name);
        const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * dtypeSize(dtype);
        header[name] = {{"dtype", dtypeName(dtype)}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        cpu.push_back(std::move(t));
    }
    std::string json = header.dump();
    while ((json.size() % 8) != 0) json.push_back(' ');  // keep the data buffer 8-byte aligned
    std::string bytes;
    bytes.reserve(8 + json.size() + offset);
    const std::uint64_t len = json.size();
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    bytes += json;
    for (const auto& t : cpu) bytes.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
    writeFileAtomically(path, bytes);
}

}  // namespace biasscope::io
