#pragma once
// Pixel-flipping curves (explain/Faithfulness.h): the mean target logit against the share of patches
// removed, most relevant first (solid) and least relevant first (dashed), one colour per map, the
// mean ABPC (area between the curves) with its SEM in the legend. Used by the CLI and the app.
#include <vector>

#include "explain/Faithfulness.h"

class QCustomPlot;
class QString;

namespace biasscope::ui {

void buildFaithfulnessFigure(QCustomPlot& plot, const QString& title, const std::vector<explain::FaithfulnessSummary>& summary, const QString& caption);

}  // namespace biasscope::ui
