#include "CliSupport.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>

namespace biasscope::cli {

namespace {

std::string fmt(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// The number in text, or NaN when text is not one whole number (trailing characters, empty).
bool parseNumber(const std::string& text, double& v) {
    if (text.empty()) return false;
    char* end = nullptr;
    v = std::strtod(text.c_str(), &end);
    return end && *end == '\0';
}

}  // namespace

CLI::Validator inRange(double lo, double hi) {
    const std::string desc = "[" + fmt(lo) + ", " + fmt(hi) + "]";
    return CLI::Validator(
        [lo, hi, desc](std::string& text) -> std::string {
            double v = 0;
            if (!parseNumber(text, v) || !std::isfinite(v) || v < lo || v > hi) return "must be a number in " + desc + ", got '" + text + "'";
            return {};
        },
        "NUMBER in " + desc);
}

CLI::Validator inOpenRange(double lo, double hi, bool hiInclusive) {
    const std::string desc = "(" + fmt(lo) + ", " + fmt(hi) + (hiInclusive ? "]" : ")");
    return CLI::Validator(
        [lo, hi, hiInclusive, desc](std::string& text) -> std::string {
            double v = 0;
            const bool ok = parseNumber(text, v) && std::isfinite(v) && v > lo && (hiInclusive ? v <= hi : v < hi);
            if (!ok) return "must be a number in " + desc + ", got '" + text + "'";
            return {};
        },
        "NUMBER in " + desc);
}

void checkFigureSize(double w, double h, double dpi) {
    if (w * dpi > kMaxFigurePixels || h * dpi > kMaxFigurePixels)
        throw CLI::ValidationError("--width/--height/--dpi", fmt(w) + " x " + fmt(h) + " in at " + fmt(dpi) + " dpi is " + fmt(std::round(w * dpi)) + " x " +
                                                              fmt(std::round(h * dpi)) + " pixels; at most " + fmt(kMaxFigurePixels) + " per side");
}

namespace {

std::mutex gMutex;
bool gLineOpen = false;

}  // namespace

void endProgressLine() {
    std::lock_guard<std::mutex> lock(gMutex);
    if (gLineOpen) std::cerr << "\n" << std::flush;
    gLineOpen = false;
}

std::function<void(double, const std::string&)> progressPrinter(bool showPercent) {
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    struct State {
        std::chrono::steady_clock::time_point last{};
        std::string lastStageWord;
        bool first = true;
    };
    auto st = std::make_shared<State>();
    return [tty, showPercent, st](double f, const std::string& stage) {
        std::ostringstream line;
        if (showPercent) line << "[" << static_cast<int>(f * 100) << "%] ";
        line << stage;
        std::lock_guard<std::mutex> lock(gMutex);
        if (tty) {
            std::cerr << "\r" << line.str() << "        " << std::flush;
            gLineOpen = true;
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        const std::string word = stage.substr(0, stage.find(' '));
        if (st->first || word != st->lastStageWord || now - st->last >= std::chrono::seconds(30)) {
            std::cerr << line.str() << "\n" << std::flush;
            st->first = false;
            st->last = now;
            st->lastStageWord = word;
        }
    };
}

}  // namespace biasscope::cli
