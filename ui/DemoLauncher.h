#pragma once
// First start on the built-in demo: builds what is missing (study/Demo.h: planted-bias data, trained
// ViT, concept head, feathered images, the study's relevance store and analysis) in a worker thread
// behind a progress dialog, then fills every view: the class model and a test image in the Relevance
// tab, the training run, the store in the study explorer, and an Attention-IoU run on the demo data.
#include <QString>

namespace biasscope::ui {
class MainWindow;

// Asynchronous; returns at once. On failure the window shows the error.
void launchDemo(MainWindow& window, const QString& demoDir, double bias);

}  // namespace biasscope::ui
