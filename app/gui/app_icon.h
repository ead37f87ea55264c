#pragma once
#include <QIcon>

namespace ipsapp {

// The window icon, drawn rather than shipped so it needs no image plugin.
QIcon appIcon();

}  // namespace ipsapp
