// io/HashCache: the remembered SHA-256 equals the computed one, is used while the file is unchanged, and
// is never used after any rewrite (same size, mtime set back) or when the entry is damaged.
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>
#include <fcntl.h>
#include <sys/stat.h>

#include "TestFixtures.h"
#include "TestRegistry.h"
#include "io/HashCache.h"
#include "io/Sha256.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {
using test::writeBytes;
std::vector<fs::path> entries(const fs::path& cache) {
    std::vector<fs::path> v;
    if (fs::exists(cache / "sha256"))
        for (const auto& e : fs::directory_iterator(cache / "sha256")) v.push_back(e.path());
    return v;
}
}  // namespace

class TestHashCache : public QObject {
    Q_OBJECT
private slots:
    void init() {
        qputenv("BIASSCOPE_CACHE_DIR", QByteArray::fromStdString((fs::path(tmp_.path().toStdString()) / "cache").string()));
        qunsetenv("BIASSCOPE_HASH_CACHE");
        fs::remove_all(fs::path(tmp_.path().toStdString()) / "cache");
    }
    void cleanup() { qunsetenv("BIASSCOPE_CACHE_DIR"); }

    void remembersTheHashOfAnUnchangedFile() {
        const fs::path f = fs::path(tmp_.path().toStdString()) / "w.bin";
        writeBytes(f, std::string(100000, 'a'));
        const std::string h = io::sha256FileHex(f.string());
        QCOMPARE(io::cachedSha256FileHex(f.string()), h);
        const auto e = entries(fs::path(tmp_.path().toStdString()) / "cache");
        QCOMPARE(e.size(), std::size_t(1));
        // the second call reads the entry: make the entry's hash recognisably different to prove it is used
        std::ifstream in(e.front(), std::ios::binary);
        std::string stored((std::istreambuf_iterator<char>(in)), {});
        in.close();
        const std::string fake(64, 'f');
        stored.replace(stored.size() - 65, 64, fake);
        writeBytes(e.front(), stored);
        QCOMPARE(io::cachedSha256FileHex(f.string()), fake);
        // off by the environment: computed
        qputenv("BIASSCOPE_HASH_CACHE", "0");
        QCOMPARE(io::cachedSha256FileHex(f.string()), h);
    }

    void anyRewriteMisses() {
        const fs::path f = fs::path(tmp_.path().toStdString()) / "w2.bin";
        writeBytes(f, std::string(5000, 'a'));
        const std::string h1 = io::cachedSha256FileHex(f.string());
        struct stat st {};
        QVERIFY(::stat(f.c_str(), &st) == 0);
        // same size, same mtime (set back), other bytes: the status-change time still differs
        writeBytes(f, std::string(5000, 'b'));
        const timespec times[2] = {st.st_atim, st.st_mtim};
        QVERIFY(::utimensat(AT_FDCWD, f.c_str(), times, 0) == 0);
        const std::string h2 = io::cachedSha256FileHex(f.string());
        QCOMPARE(h2, io::sha256FileHex(f.string()));
        QVERIFY(h1 != h2);
    }

    void damagedEntriesAreIgnored() {
        const fs::path f = fs::path(tmp_.path().toStdString()) / "w3.bin";
        writeBytes(f, "hello");
        const std::string h = io::cachedSha256FileHex(f.string());
        for (const auto& e : entries(fs::path(tmp_.path().toStdString()) / "cache")) writeBytes(e, "garbage");
        QCOMPARE(io::cachedSha256FileHex(f.string()), h);
        // a cache folder that cannot be written: still the right hash
        qputenv("BIASSCOPE_CACHE_DIR", "/proc/biasscope-not-writable");
        QCOMPARE(io::cachedSha256FileHex(f.string()), h);
        // a missing file is an error naming it, as without the cache
        bool threw = false;
        try {
            io::cachedSha256FileHex((fs::path(tmp_.path().toStdString()) / "absent.bin").string());
        } catch (const std::exception& e) {
            threw = std::string(e.what()).find("absent.bin") != std::string::npos;
        }
        QVERIFY(threw);
    }

private:
    QTemporaryDir tmp_;
};

BIASSCOPE_REGISTER_TEST(TestHashCache)
#include "TestHashCache.moc"
