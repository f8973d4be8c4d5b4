#pragma once
// What every sub-command shares: bounded numeric options (the bound is in the message, NaN and Inf are
// refused), the progress line on stderr, and the exit-code contract of main (docs/cli.md, "Errors").
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace biasscope::cli {

// A validator for a numeric option: a finite number in [lo, hi] (integers or decimals; the option's own
// type then refuses "1.7" for an integer). Message: "must be a number in [lo, hi], got X".
CLI::Validator inRange(double lo, double hi);
// Finite and lo < x < hi (open interval), e.g. an MCC in (-1, 1) or a learning rate in (0, 10].
CLI::Validator inOpenRange(double lo, double hi, bool hiInclusive = false);

// Raster figures of --width x --height inches at --dpi: at most kMaxFigurePixels per side (the largest raster
// Qt paints reliably is 32767), refused before any work with the pixel size in the message.
constexpr double kMaxFigurePixels = 20000;
void checkFigureSize(double widthInches, double heightInches, double dpi);

// Progress on stderr. On a terminal: one line rewritten in place (\r). Otherwise (a log file, Slurm):
// a line at the first update, at every new stage text's first word, and at most every 30 s.
// endProgressLine() closes an open \r line before anything else is printed (errors never glue to it).
std::function<void(double, const std::string&)> progressPrinter(bool showPercent);
void endProgressLine();

}  // namespace biasscope::cli
