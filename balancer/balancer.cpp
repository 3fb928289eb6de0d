#include "balancer/balancer.h"

#include "balancer/first_available.h"
#include "balancer/least_connections.h"
#include "balancer/maglev.h"
#include "balancer/random_two_choices.h"
#include "balancer/round_robin.h"
#include "balancer/weighted_round_robin.h"

namespace sb::balancer {

std::unique_ptr<Balancer> make_balancer(Algorithm algorithm,
                                        std::shared_ptr<const PoolSnapshot> snapshot,
                                        std::uint64_t seed, const BalancerOptions& options) {
  switch (algorithm) {
    case Algorithm::round_robin:
      return std::make_unique<RoundRobin>(std::move(snapshot), seed);
    case Algorithm::weighted_round_robin:
      return std::make_unique<WeightedRoundRobin>(std::move(snapshot), options);
    case Algorithm::least_connections:
      return std::make_unique<LeastConnections>(std::move(snapshot), options);
    case Algorithm::random_two_choices:
      return std::make_unique<RandomTwoChoices>(std::move(snapshot), seed, options);
    case Algorithm::source_ip:
      return std::make_unique<HashBalancer>(std::move(snapshot), HashKey::address, options,
                                            "source-ip");
    case Algorithm::source_network:
      return std::make_unique<HashBalancer>(std::move(snapshot), HashKey::network, options,
                                            "source-network");
    case Algorithm::maglev:
      return std::make_unique<HashBalancer>(std::move(snapshot), HashKey::key_or_address, options,
                                            "maglev");
    case Algorithm::first_available:
      return std::make_unique<FirstAvailable>(std::move(snapshot));
  }
  return nullptr;
}

}  // namespace sb::balancer
