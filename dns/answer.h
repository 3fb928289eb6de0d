#pragma once
// Answers for the `protocol: dns` listener (docs/configuration.md dns.records) from the
// pools' current snapshots: the same health state the proxy uses, so a dead
// server leaves the answers within its `fall` window.
//
// Pure: no sockets. One Answerer per listener per worker (the rotation
// counters are the worker's own); the caller supplies each pool's snapshot
// and the buffers.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "balancer/pool_snapshot.h"
#include "dns/wire.h"

namespace sb::dns {

enum class RecordKind : std::uint8_t { a, aaaa, mx, srv };

struct RecordSpec {
  std::string name;  // lower case, no final dot
  RecordKind kind = RecordKind::a;
  std::uint32_t ttl = 30;
  std::uint16_t preference = 10;  // MX: plus 10 x the server's priority tier
  std::size_t pool = 0;           // the caller's index for the pool
};

struct AnswerOptions {
  bool rotate = true;
  std::size_t max_answers = 8;
  bool all_when_down = true;  // when-all-down: all (else none)
};

struct AnswerResult {
  std::size_t size = 0;  // 0: drop the packet, send nothing
  wire::Rcode rcode = wire::Rcode::noerror;
  std::uint16_t qtype = 0;
  bool all_down = false;  // no server was up: answered per when-all-down
  bool truncated = false;
};

class Answerer {
 public:
  using SnapshotOf = std::function<const balancer::PoolSnapshot*(std::size_t pool)>;

  Answerer(std::vector<RecordSpec> records, AnswerOptions options);

  // Answers `query` into `out`, at most `limit` bytes (512 for plain UDP, the
  // client's EDNS size up to 1232, 65535 over TCP: the caller says
  // `tcp`).
  AnswerResult answer(std::span<const std::uint8_t> query, std::span<std::uint8_t> out, bool tcp,
                      const SnapshotOf& snapshot_of);

 private:
  struct Chosen {
    const balancer::ServerView* server;
    std::uint16_t order;  // MX preference / SRV priority
  };
  // The servers that `record` answers with, rotated and capped.
  // At most `max_answers` of the record's eligible servers, rotated.
  std::size_t choose(std::size_t record, const balancer::PoolSnapshot& snap, bool& all_down,
                     std::size_t max_answers);
  void write_record(wire::ResponseWriter& w, std::size_t record);

  std::vector<RecordSpec> records_;
  AnswerOptions options_;
  std::vector<std::uint64_t> turns_;  // per record: responses so far (rotation)
  // Scratch, reused: no allocation per query once grown.
  std::vector<Chosen> chosen_;
  struct Glue {
    const balancer::ServerView* server;
    std::uint16_t name_offset;  // where its name was written; 0: not written
    std::uint32_t ttl;
  };
  std::vector<Glue> glue_;
};

}  // namespace sb::dns
