#pragma once
// SIGTERM, SIGINT and SIGHUP (a desktop session logging out, `kill`, Ctrl+C in a terminal) end IP Studio as
// closing the window does — the work autosaved, the session released — instead of as a crash. The signal
// handler only writes a byte to a socket pair; `onSignal` runs later on the event loop.
#include <functional>

#include <QObject>

namespace ipsui {

// Installs the handlers once per process; `onSignal` runs on the thread of `context`.
void onTerminationSignals(QObject* context, std::function<void()> onSignal);

}  // namespace ipsui
