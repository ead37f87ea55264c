#pragma once
// Keeps a top-level window on its screen: the preferred size (or a geometry saved on a larger monitor) is
// shrunk to the screen's free area, so no control starts off-screen on a 1280x720 laptop.
#include <QRect>
#include <QSize>

class QWidget;

namespace ipsui {

// `wanted` shrunk to fit `available` less `frame` (the window manager's decorations), never below `minimum`.
QSize sizeWithinScreen(QSize wanted, QSize minimum, QRect available, QSize frame);

// Resizes `window` to fit its screen's available geometry and moves it back inside when it lies partly off.
void fitWindowToScreen(QWidget* window);

}  // namespace ipsui
