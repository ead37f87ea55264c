#include "termination_signals.h"

#include <QSocketNotifier>
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>

namespace ipsui {

namespace {
int wakeFds[2] = {-1, -1};

extern "C" void writeWakeByte(int) {
    const char byte = 1;
    (void)!::write(wakeFds[0], &byte, 1);  // async-signal-safe; a full pipe already holds a wake-up
}
}  // namespace

void onTerminationSignals(QObject* context, std::function<void()> onSignal) {
    if (wakeFds[0] >= 0 || ::socketpair(AF_UNIX, SOCK_STREAM, 0, wakeFds) != 0) return;
    auto* notifier = new QSocketNotifier(wakeFds[1], QSocketNotifier::Read, context);
    QObject::connect(notifier, &QSocketNotifier::activated, context, [onSignal = std::move(onSignal)] {
        char byte = 0;
        (void)!::read(wakeFds[1], &byte, 1);
        onSignal();
    });
    struct sigaction action = {};
    action.sa_handler = writeWakeByte;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int signal : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(signal, &action, nullptr);
}

}  // namespace ipsui
