#include "nn/kernels/openmp_scope.h"

#include <omp.h>

namespace ips::nn::kernels {

SerialOpenMpScope::SerialOpenMpScope() : before_(omp_get_max_threads()) { omp_set_num_threads(1); }

SerialOpenMpScope::~SerialOpenMpScope() { omp_set_num_threads(before_); }

}  // namespace ips::nn::kernels
