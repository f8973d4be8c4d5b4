#pragma once
// First start on the built-in demo: builds what is missing (study/Demo.h: planted-bias data, trained
// ViT, concept head, feathered images) in a worker thread behind a progress dialog, then opens the
// class model and a test image in the explorer and the training run in the Training tab.
#include <QString>

namespace biasscope::ui {
class MainWindow;
}

namespace biasscope::app {

// Asynchronous; returns at once. On failure the window shows the error.
void launchDemo(ui::MainWindow& window, const QString& demoDir, double bias);

}  // namespace biasscope::app
