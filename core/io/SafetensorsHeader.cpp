#include "io/SafetensorsHeader.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "io/JsonFile.h"

namespace biasscope::io {

namespace {

struct DTypeName {
    const char* name;
    SafetensorsDType dtype;
    std::size_t size;
};

constexpr DTypeName kDTypes[] = {
    {"F64", SafetensorsDType::F64, 8}, {"F32", SafetensorsDType::F32, 4}, {"F16", SafetensorsDType::F16, 2},
    {"BF16", SafetensorsDType::BF16, 2}, {"I64", SafetensorsDType::I64, 8}, {"I32", SafetensorsDType::I32, 4},
    {"I16", SafetensorsDType::I16, 2}, {"I8", SafetensorsDType::I8, 1}, {"U8", SafetensorsDType::U8, 1},
    {"BOOL", SafetensorsDType::BOOL, 1},
};

using Kind = SafetensorsError::Kind;

}  // namespace

std::size_t dtypeSize(SafetensorsDType dtype) {
    for (const auto& d : kDTypes)
        if (d.dtype == dtype) return d.size;
    return 0;
}

const char* dtypeName(SafetensorsDType dtype) {
    for (const auto& d : kDTypes)
        if (d.dtype == dtype) return d.name;
    return "?";
}

std::uint64_t SafetensorsEntry::numel() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= static_cast<std::uint64_t>(d);
    return n;
}

const SafetensorsEntry* SafetensorsHeader::find(const std::string& name) const {
    for (const auto& e : entries)
        if (e.name == name) return &e;
    return nullptr;
}

const char* SafetensorsError::kindName(Kind kind) {
    switch (kind) {
        case Kind::Truncated: return "truncated file";
        case Kind::HeaderTooLarge: return "header too large";
        case Kind::InvalidJson: return "invalid header JSON";
        case Kind::InvalidEntry: return "invalid tensor entry";
        case Kind::UnknownDType: return "unknown dtype";
        case Kind::InvalidShape: return "invalid shape";
        case Kind::SizeMismatch: return "size mismatch";
        case Kind::OutOfRange: return "data offsets out of range";
        case Kind::Overlap: return "overlapping tensor data";
        case Kind::InvalidMetadata: return "invalid __metadata__";
        case Kind::Io: return "I/O error";
    }
    return "error";
}

SafetensorsError::SafetensorsError(Kind kind, const std::string& source, const std::string& detail)
    : Error(source + ": " + kindName(kind) + ": " + detail), kind_(kind) {}

SafetensorsHeader parseSafetensorsHeader(const std::uint8_t* data, std::size_t size, const std::string& source) {
    if (size < 8) throw SafetensorsError(Kind::Truncated, source, "file has " + std::to_string(size) + " bytes, needs at least 8");
    std::uint64_t headerLen = 0;
    for (int i = 7; i >= 0; --i) headerLen = (headerLen << 8) | data[i];
    if (headerLen > kMaxSafetensorsHeaderBytes)
        throw SafetensorsError(Kind::HeaderTooLarge, source, "header length " + std::to_string(headerLen) + " bytes exceeds the 100 MB limit");
    if (headerLen > size - 8)
        throw SafetensorsError(Kind::Truncated, source,
                               "header length " + std::to_string(headerLen) + " but only " + std::to_string(size - 8) + " bytes follow");
    if (headerLen < 2 || data[8] != '{')
        throw SafetensorsError(Kind::InvalidJson, source, "header does not start with '{'");

    nlohmann::json json;
    try {
        auto bound = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
            if (depth > kMaxJsonDepth) throw SafetensorsError(Kind::InvalidJson, source, "header JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
            return true;
        };
        json = nlohmann::json::parse(reinterpret_cast<const char*>(data + 8), reinterpret_cast<const char*>(data + 8 + headerLen), bound);
    } catch (const nlohmann::json::exception& e) {
        throw SafetensorsError(Kind::InvalidJson, source, io::jsonErrorText(e));
    }
    if (!json.is_object()) throw SafetensorsError(Kind::InvalidJson, source, "header is not a JSON object");

    SafetensorsHeader header;
    header.dataOffset = 8 + headerLen;
    const std::uint64_t dataSize = size - header.dataOffset;

    for (auto it = json.begin(); it != json.end(); ++it) {
        const std::string& name = it.key();
        const auto& value = it.value();
        if (name == "__metadata__") {
            if (!value.is_object()) throw SafetensorsError(Kind::InvalidMetadata, source, "__metadata__ must be an object");
            for (auto m = value.begin(); m != value.end(); ++m) {
                if (!m.value().is_string())
                    throw SafetensorsError(Kind::InvalidMetadata, source, "__metadata__ value of '" + m.key() + "' is not a string");
                header.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
            throw SafetensorsError(Kind::InvalidEntry, source, "tensor '" + name + "' needs dtype, shape and data_offsets");
        const auto& jd = value["dtype"];
        const auto& js = value["shape"];
        const auto& jo = value["data_offsets"];
        if (!jd.is_string() || !js.is_array() || !jo.is_array() || jo.size() != 2)
            throw SafetensorsError(Kind::InvalidEntry, source, "tensor '" + name + "' has malformed dtype/shape/data_offsets");

        SafetensorsEntry entry;
        entry.name = name;
        const std::string dt = jd.get<std::string>();
        bool known = false;
        for (const auto& d : kDTypes)
            if (dt == d.name) {
                entry.dtype = d.dtype;
                known = true;
            }
        if (!known) throw SafetensorsError(Kind::UnknownDType, source, "tensor '" + name + "' has dtype '" + dt + "'");

        std::uint64_t numel = 1;
        for (const auto& d : js) {
            if (!d.is_number_integer())
                throw SafetensorsError(Kind::InvalidShape, source, "tensor '" + name + "' has a non-integer dimension");
            if (d.is_number_unsigned() ? d.get<std::uint64_t>() > (1ull << 62) : d.get<std::int64_t>() < 0)
                throw SafetensorsError(Kind::InvalidShape, source, "tensor '" + name + "' has dimension " + d.dump());
            const auto dim = d.get<std::int64_t>();
            if (dim != 0 && numel > std::numeric_limits<std::uint64_t>::max() / 16 / static_cast<std::uint64_t>(dim))
                throw SafetensorsError(Kind::InvalidShape, source, "tensor '" + name + "' has an overflowing element count");
            numel *= static_cast<std::uint64_t>(dim);
            entry.shape.push_back(dim);
        }
        for (const auto& o : jo)
            if (!o.is_number_unsigned())
                throw SafetensorsError(Kind::InvalidEntry, source, "tensor '" + name + "' has non-integer data_offsets");
        entry.begin = jo[0].get<std::uint64_t>();
        entry.end = jo[1].get<std::uint64_t>();
        if (entry.begin > entry.end || entry.end > dataSize)
            throw SafetensorsError(Kind::OutOfRange, source,
                                   "tensor '" + name + "' data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                                       ") outside the data buffer of " + std::to_string(dataSize) + " bytes");
        const std::uint64_t expected = numel * dtypeSize(entry.dtype);
        if (entry.end - entry.begin != expected)
            throw SafetensorsError(Kind::SizeMismatch, source,
                                   "tensor '" + name + "' spans " + std::to_string(entry.end - entry.begin) + " bytes, its dtype and shape need " +
                                       std::to_string(expected));
        header.entries.push_back(std::move(entry));
    }
    std::sort(header.entries.begin(), header.entries.end(), [](const auto& a, const auto& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (std::size_t i = 1; i < header.entries.size(); ++i) {
        const auto& prev = header.entries[i - 1];
        const auto& cur = header.entries[i];
        if (cur.begin < prev.end && cur.end > cur.begin && prev.end > prev.begin)
            throw SafetensorsError(Kind::Overlap, source, "tensors '" + prev.name + "' and '" + cur.name + "' share bytes");
    }
    return header;
}

}  // namespace biasscope::io
