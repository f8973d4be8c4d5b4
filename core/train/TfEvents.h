#pragma once
// A small writer of TensorBoard event files (events.out.tfevents.<time>.<host>): TFRecord framing
// (length, masked CRC-32C of the length, data, masked CRC-32C of the data) around Event protocol
// buffers with scalar summaries, written by hand (no protobuf dependency). TensorBoard reads them as
// it read the published script's logs. The reader exists for tests and for resuming.
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace biasscope::train {

std::uint32_t crc32c(std::string_view data);
std::uint32_t maskedCrc32c(std::string_view data);

struct ScalarEvent {
    std::string tag;
    std::int64_t step = 0;
    float value = 0;
    double wallTime = 0;
};

class TfEventsWriter {
public:
    // Creates <dir>/events.out.tfevents.<unix time>.biasscope (appends a new file per run, as TensorBoard expects).
    explicit TfEventsWriter(const std::string& dir);
    void addScalar(const std::string& tag, std::int64_t step, float value);
    void flush();
    const std::string& path() const { return path_; }

private:
    void writeRecord(const std::string& event);
    std::string path_;
    std::ofstream out_;
};

// Reads every scalar of an event file; throws Error naming the file on a bad CRC or truncated record.
std::vector<ScalarEvent> readScalarEvents(const std::string& path);

}  // namespace biasscope::train
