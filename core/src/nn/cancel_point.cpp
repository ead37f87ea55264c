#include "nn/cancel_point.h"

#include "ips/errors.h"

namespace ips::nn {
namespace {
thread_local const CancelToken* current_token = nullptr;
}  // namespace

CancelScope::CancelScope(const CancelToken* token) : previous_(current_token) { current_token = token; }
CancelScope::~CancelScope() { current_token = previous_; }

void cancel_point() {
    if (current_token && current_token->cancelled()) throw Cancelled();
}

}  // namespace ips::nn
