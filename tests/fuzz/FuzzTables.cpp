// libFuzzer: the dataset tables a user points BiasScope at. One of (compile definition):
//   BIASSCOPE_FUZZ_WATERBIRDS  <root>/metadata.csv (img_filename, y, place, split)
//   BIASSCOPE_FUZZ_ATTRIBUTES  the CelebAMask-HQ attribute table (byte 0 picks the name .txt / .csv)
//   BIASSCOPE_FUZZ_CSV_DATASET a training CSV of (path, label[, split])
// Each is read or refused naming the file; what is read is consistent. A few image files exist in the
// scratch folder so that rows naming them get past the existence check.
#include <cstdint>
#include <cstdlib>

#include "FuzzSupport.h"
#include "data/AttentionData.h"
#include "data/Datasets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace biasscope;
#if defined(BIASSCOPE_FUZZ_WATERBIRDS)
    static const bool once = [] {
        fuzz::writeText("wb/001.Bird/a.jpg", "");
        fuzz::writeText("wb/002.Bird/b.jpg", "");
        return true;
    }();
    (void)once;
    const std::string path = fuzz::writeInput("wb/metadata.csv", data, size);
    fuzz::expectContract([&] {
        const auto w = data::loadWaterbirds((fuzz::scratch() / "wb").string());
        if (w.files.empty() || w.y.size() != w.files.size() || w.place.size() != w.files.size() || w.split.size() != w.files.size()) std::abort();
        for (std::size_t i = 0; i < w.files.size(); ++i)
            if (w.y[i] < 0 || w.y[i] > 1 || w.place[i] < 0 || w.place[i] > 1 || w.split[i] < 0 || w.split[i] > 2) std::abort();
    }, "metadata.csv");
#elif defined(BIASSCOPE_FUZZ_ATTRIBUTES)
    const std::string path = fuzz::writeInput(size && (data[0] & 1) ? "attr/anno.txt" : "attr/anno.csv", size ? data + 1 : data, size ? size - 1 : 0);
    fuzz::expectContract([&] {
        const auto t = data::readAttributeTable(path);
        if (t.files.size() != t.values.size()) std::abort();
        for (const auto& v : t.values) {
            if (v.size() != t.names.size()) std::abort();
            for (auto x : v)
                if (x > 1) std::abort();
        }
        for (const auto& n : t.names) (void)t.column(n);
    }, path);
#elif defined(BIASSCOPE_FUZZ_CSV_DATASET)
    static const bool once = [] {
        for (const char* f : {"csv/a.png", "csv/b.png", "csv/c.png", "csv/d.png"}) fuzz::writeText(f, "");
        return true;
    }();
    (void)once;
    const std::string path = fuzz::writeInput("csv/data.csv", data, size);
    fuzz::expectContract([&] {
        const auto s = data::loadCsvDataset(path, 1);
        for (const auto* part : {&s.train, &s.val, &s.test}) {
            if (part->files.size() != part->labels.size()) std::abort();
            for (int l : part->labels)
                if (l < 0 || static_cast<std::size_t>(l) >= part->classNames.size()) std::abort();
        }
    }, path);
#else
#error "one of BIASSCOPE_FUZZ_WATERBIRDS, _ATTRIBUTES, _CSV_DATASET"
#endif
    return 0;
}
