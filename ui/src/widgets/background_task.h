#pragma once
// Work that would freeze the window (scanning model folders, hashing gigabytes of a partial download) runs
// on Qt's thread pool; its result comes back on the UI thread, and is dropped when `owner` is gone by then.
#include <QCoreApplication>
#include <QPointer>
#include <QThreadPool>
#include <memory>
#include <utility>

namespace ipsui {

template <typename Result, typename Work, typename Done>
void runInBackground(QObject* owner, Work work, Done done) {
    QPointer<QObject> guard(owner);
    auto finish = std::make_shared<Done>(std::move(done));
    QThreadPool::globalInstance()->start([guard, work = std::move(work), finish]() mutable {
        auto result = std::make_shared<Result>(work());
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [guard, result, finish] {
                if (guard) (*finish)(std::move(*result));
            },
            Qt::QueuedConnection);
    });
}

}  // namespace ipsui
