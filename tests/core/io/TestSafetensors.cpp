// Safetensors reader/writer: round trip, and every malformed-file class gives its named error.
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "TestRegistry.h"
#include "io/Safetensors.h"
#include "io/Sha256.h"

using namespace biasscope;
using Kind = io::SafetensorsError::Kind;

namespace {

std::string makeFile(const std::string& header, std::size_t dataBytes, std::uint64_t declaredLen = ~0ull) {
    std::string s;
    const std::uint64_t len = declaredLen == ~0ull ? header.size() : declaredLen;
    for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    s += header;
    s.append(dataBytes, '\0');
    return s;
}

Kind parseKind(const std::string& bytes) {
    try {
        io::parseSafetensorsHeader(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "mem.safetensors");
    } catch (const io::SafetensorsError& e) {
        if (std::string(e.what()).find("mem.safetensors") == std::string::npos) throw std::runtime_error("error does not name the file");
        return e.kind();
    }
    throw std::runtime_error("no error raised");
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
private slots:
    void roundTripKeepsValuesDtypesAndMetadata() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("t.safetensors").toStdString();
        const at::Tensor a = torch::randn({3, 5});
        const at::Tensor b = torch::arange(7, torch::kInt64);
        const at::Tensor c = torch::randn({2, 2}).to(torch::kBFloat16);
        const at::Tensor empty = torch::zeros({0, 4});
        io::writeSafetensors(path, {{"a", a}, {"b", b}, {"c", c}, {"e", empty}}, {{"k", "v"}});
        const auto r = io::readSafetensors(path);
        QCOMPARE(r.metadata.at("k"), std::string("v"));
        QCOMPARE(r.tensors.size(), std::size_t(4));
        std::map<std::string, at::Tensor> m(r.tensors.begin(), r.tensors.end());
        QVERIFY(torch::equal(m["a"], a));
        QVERIFY(torch::equal(m["b"], b));
        QCOMPARE(m["c"].scalar_type(), torch::kBFloat16);
        QVERIFY(torch::equal(m["c"], c));
        QCOMPARE(m["e"].sizes().vec(), (std::vector<std::int64_t>{0, 4}));
        // header is 8-byte aligned so the data buffer is too
        std::ifstream in(path, std::ios::binary);
        std::uint64_t len = 0;
        in.read(reinterpret_cast<char*>(&len), 8);
        QCOMPARE(len % 8, std::uint64_t(0));
    }

    void malformedFilesGiveNamedErrors() {
        const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        QCOMPARE(parseKind("abc"), Kind::Truncated);
        QCOMPARE(parseKind(makeFile(ok, 8, 1ull << 40)), Kind::HeaderTooLarge);
        QCOMPARE(parseKind(makeFile(ok, 8, ok.size() + 100)), Kind::Truncated);
        QCOMPARE(parseKind(makeFile("[1,2]", 0)), Kind::InvalidJson);
        QCOMPARE(parseKind(makeFile("{\"a\":", 0)), Kind::InvalidJson);
        QCOMPARE(parseKind(makeFile(R"({"a":{"dtype":"F32","shape":[2]}})", 8)), Kind::InvalidEntry);
        QCOMPARE(parseKind(makeFile(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8)), Kind::UnknownDType);
        QCOMPARE(parseKind(makeFile(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)), Kind::InvalidShape);
        QCOMPARE(parseKind(makeFile(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8)), Kind::InvalidShape);
        QCOMPARE(parseKind(makeFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)), Kind::SizeMismatch);
        QCOMPARE(parseKind(makeFile(ok, 4)), Kind::OutOfRange);
        QCOMPARE(parseKind(makeFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)), Kind::OutOfRange);
        QCOMPARE(parseKind(makeFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)),
                 Kind::Overlap);
        QCOMPARE(parseKind(makeFile(R"({"__metadata__":{"x":1}})", 0)), Kind::InvalidMetadata);
    }

    void missingAndTruncatedFilesOnDisk() {
        QTemporaryDir dir;
        try {
            io::readSafetensors(dir.filePath("none.safetensors").toStdString());
            QFAIL("no error for a missing file");
        } catch (const io::SafetensorsError& e) {
            QCOMPARE(e.kind(), Kind::Io);
        }
        const std::string path = dir.filePath("t.safetensors").toStdString();
        io::writeSafetensors(path, {{"a", torch::randn({64})}});
        std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
        try {
            io::readSafetensors(path);
            QFAIL("no error for a truncated file");
        } catch (const io::SafetensorsError& e) {
            QCOMPARE(e.kind(), Kind::OutOfRange);
            QVERIFY(std::string(e.what()).find("'a'") != std::string::npos);
        }
    }

    void sha256KnownVectors() {
        QCOMPARE(io::sha256Hex(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        QCOMPARE(io::sha256Hex("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(io::sha256Hex(std::string(1000, 'a')), std::string("41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"));
    }
};

BIASSCOPE_REGISTER_TEST(TestSafetensors)
#include "TestSafetensors.moc"
