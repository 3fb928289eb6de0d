#include "balancer/balancer.h"

#include "balancer/round_robin.h"

namespace sb::balancer {

std::unique_ptr<Balancer> make_balancer(Algorithm algorithm,
                                        std::shared_ptr<const PoolSnapshot> snapshot,
                                        std::uint64_t seed) {
  switch (algorithm) {
    case Algorithm::round_robin:
      return std::make_unique<RoundRobin>(std::move(snapshot), seed);
  }
  return nullptr;
}

}  // namespace sb::balancer
