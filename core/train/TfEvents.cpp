#include "train/TfEvents.h"

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "common/Error.h"

namespace biasscope::train {

namespace {

const std::array<std::uint32_t, 256>& table() {
    static const std::array<std::uint32_t, 256> t = [] {
        std::array<std::uint32_t, 256> a{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // Castagnoli, reflected
            a[i] = c;
        }
        return a;
    }();
    return t;
}

void varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

void key(std::string& out, int field, int wireType) { varint(out, static_cast<std::uint64_t>(field << 3 | wireType)); }

template <typename T>
void fixed(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian hosts (x86-64, aarch64)
    out.append(b, sizeof(T));
}

void bytesField(std::string& out, int field, const std::string& bytes) {
    key(out, field, 2);
    varint(out, bytes.size());
    out += bytes;
}

double now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

// Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
// Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
std::string eventBytes(double wall, std::int64_t step, const std::string* fileVersion, const std::string* tag, float value) {
    std::string e;
    key(e, 1, 1);
    fixed(e, wall);
    if (step != 0) {
        key(e, 2, 0);
        varint(e, static_cast<std::uint64_t>(step));
    }
    if (fileVersion) bytesField(e, 3, *fileVersion);
    if (tag) {
        std::string v;
        bytesField(v, 1, *tag);
        key(v, 2, 5);
        fixed(v, value);
        std::string summary;
        bytesField(summary, 1, v);
        bytesField(e, 5, summary);
    }
    return e;
}

std::uint64_t readVarint(const std::string& s, std::size_t& i, const std::string& path) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (i >= s.size()) throw Error(path + ": truncated protocol buffer");
        const auto b = static_cast<std::uint8_t>(s[i++]);
        v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
    throw Error(path + ": malformed varint");
}

// calls f(field, wireType, payload-or-empty, varint/fixed value) for each field
template <typename F>
void parseFields(const std::string& s, const std::string& path, F f) {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::uint64_t k = readVarint(s, i, path);
        const int field = static_cast<int>(k >> 3), wt = static_cast<int>(k & 7);
        if (wt == 0) {
            f(field, wt, std::string(), readVarint(s, i, path));
        } else if (wt == 1 || wt == 5) {
            const std::size_t n = wt == 1 ? 8 : 4;
            if (i + n > s.size()) throw Error(path + ": truncated protocol buffer");
            std::uint64_t v = 0;
            std::memcpy(&v, s.data() + i, n);
            i += n;
            f(field, wt, std::string(), v);
        } else if (wt == 2) {
            const std::uint64_t n = readVarint(s, i, path);
            if (i + n > s.size()) throw Error(path + ": truncated protocol buffer");
            f(field, wt, s.substr(i, n), 0);
            i += n;
        } else {
            throw Error(path + ": unsupported protocol buffer wire type " + std::to_string(wt));
        }
    }
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char ch : data) c = table()[(c ^ ch) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::uint32_t maskedCrc32c(std::string_view data) {
    const std::uint32_t c = crc32c(data);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TfEventsWriter::TfEventsWriter(const std::string& dir) {
    std::filesystem::create_directories(dir);
    const auto t = static_cast<long long>(now());
    std::string base = (std::filesystem::path(dir) / ("events.out.tfevents." + std::to_string(t) + ".biasscope")).string();
    path_ = base;
    for (int i = 1; std::filesystem::exists(path_); ++i) path_ = base + "." + std::to_string(i);
    out_.open(path_, std::ios::binary);
    if (!out_) throw Error(path_ + ": cannot create the TensorBoard event file");
    const std::string version = "brain.Event:2";
    writeRecord(eventBytes(now(), 0, &version, nullptr, 0));
}

void TfEventsWriter::writeRecord(const std::string& data) {
    std::string rec;
    const std::uint64_t n = data.size();
    std::string len(reinterpret_cast<const char*>(&n), 8);
    rec += len;
    fixed(rec, maskedCrc32c(len));
    rec += data;
    fixed(rec, maskedCrc32c(data));
    out_.write(rec.data(), static_cast<std::streamsize>(rec.size()));
    if (!out_) throw Error(path_ + ": write failed");
}

void TfEventsWriter::addScalar(const std::string& tag, std::int64_t step, float value) { writeRecord(eventBytes(now(), step, nullptr, &tag, value)); }

void TfEventsWriter::flush() { out_.flush(); }

std::vector<ScalarEvent> readScalarEvents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::ostringstream os;
    os << in.rdbuf();
    const std::string s = os.str();
    std::vector<ScalarEvent> out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (i + 12 > s.size()) throw Error(path + ": truncated record header at byte " + std::to_string(i));
        const std::string len = s.substr(i, 8);
        std::uint64_t n;
        std::uint32_t lenCrc, dataCrc;
        std::memcpy(&n, len.data(), 8);
        std::memcpy(&lenCrc, s.data() + i + 8, 4);
        if (lenCrc != maskedCrc32c(len)) throw Error(path + ": bad length CRC at byte " + std::to_string(i));
        if (i + 12 + n + 4 > s.size()) throw Error(path + ": truncated record at byte " + std::to_string(i));
        const std::string data = s.substr(i + 12, n);
        std::memcpy(&dataCrc, s.data() + i + 12 + n, 4);
        if (dataCrc != maskedCrc32c(data)) throw Error(path + ": bad data CRC at byte " + std::to_string(i));
        i += 12 + n + 4;
        ScalarEvent ev;
        std::string summary;
        parseFields(data, path, [&](int field, int, const std::string& payload, std::uint64_t v) {
            if (field == 1) std::memcpy(&ev.wallTime, &v, 8);
            if (field == 2) ev.step = static_cast<std::int64_t>(v);
            if (field == 5) summary = payload;
        });
        if (summary.empty()) continue;
        parseFields(summary, path, [&](int field, int, const std::string& value, std::uint64_t) {
            if (field != 1) return;
            ScalarEvent e = ev;
            parseFields(value, path, [&](int f, int, const std::string& p, std::uint64_t v) {
                if (f == 1) e.tag = p;
                if (f == 2) {
                    const auto u = static_cast<std::uint32_t>(v);
                    std::memcpy(&e.value, &u, 4);
                }
            });
            out.push_back(e);
        });
    }
    return out;
}

}  // namespace biasscope::train
