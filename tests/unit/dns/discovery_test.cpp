// DNS answers to pool members: names, tiers, weights and ports for
// HOST:PORT, SRV and MX discovery, and the TTL clamp.
#include <gtest/gtest.h>

#include "dns/discovery.h"

namespace sb::dns {
namespace {

AddressRecord v4(std::uint8_t last) {
  AddressRecord a;
  a.ip.bytes = {10, 0, 0, last};
  return a;
}

TEST(Discovery, HostPortBecomesOneServerPerAddress) {
  AddressRecord six;
  six.ip.v6 = true;
  six.ip.bytes[15] = 1;
  const auto servers = servers_from_addresses("hub", {v4(11), six}, 25, 3, 1);
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].name, "hub@10.0.0.11");
  EXPECT_EQ(servers[1].name, "hub@::1");
  for (const auto& s : servers) {
    EXPECT_EQ(s.port, 25);
    EXPECT_EQ(s.weight, 3);
    EXPECT_EQ(s.priority, 1);
  }
}

TEST(Discovery, SrvPriorityIsTheTierAndItsWeightAndPortAreKept) {
  const std::vector<SrvRecord> records = {{"um1.test", 10, 60, 5060, {}},
                                          {"um2.test", 20, 0, 5061, {}},
                                          {".", 0, 0, 0, {}}};  // "not offered": nothing
  const AddressesByName addresses = {{"um1.test", {v4(1), v4(2)}}, {"um2.test", {v4(3)}}};
  const auto servers = servers_from_srv(records, addresses, 100);
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0].name, "um1.test:5060@10.0.0.1");
  EXPECT_EQ(servers[1].name, "um1.test:5060@10.0.0.2");
  EXPECT_EQ(servers[0].priority, 110);
  EXPECT_EQ(servers[0].weight, 60);
  EXPECT_EQ(servers[0].port, 5060);
  EXPECT_EQ(servers[2].name, "um2.test:5061@10.0.0.3");
  EXPECT_EQ(servers[2].priority, 120);
  EXPECT_EQ(servers[2].weight, 1);  // weight 0: the smallest share, not none
}

TEST(Discovery, SrvWeightsAboveTheRangeAreScaledKeepingRatios) {
  const std::vector<SrvRecord> records = {{"a.test", 0, 65535, 1, {}}, {"b.test", 0, 16384, 1, {}}};
  const AddressesByName addresses = {{"a.test", {v4(1)}}, {"b.test", {v4(2)}}};
  const auto servers = servers_from_srv(records, addresses, 0);
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].weight, 256);
  EXPECT_EQ(servers[1].weight, 64);
}

TEST(Discovery, MxPreferenceIsTheTierOnTheEntrysPort) {
  const std::vector<MxRecord> records = {{"mx1.test", 10, {}, {}},
                                         {"mx2.test", 20, {}, {}},
                                         {"gone.test", 30, {}, {}}};  // no addresses: skipped
  const AddressesByName addresses = {{"mx1.test", {v4(7)}}, {"mx2.test", {v4(8)}}};
  const auto servers = servers_from_mx(records, addresses, 2525, 2, 0);
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].name, "mx1.test@10.0.0.7");
  EXPECT_EQ(servers[0].priority, 10);
  EXPECT_EQ(servers[0].port, 2525);
  EXPECT_EQ(servers[0].weight, 2);
  EXPECT_EQ(servers[1].priority, 20);
  // RFC 7505 null MX: the domain takes no mail.
  EXPECT_TRUE(servers_from_mx({{"", 0, {}, {}}}, addresses, 25, 1, 0).empty());
}

TEST(Discovery, RefreshFollowsTheTtlWithinTheClamp) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  EXPECT_EQ(refresh_after(seconds(60), true, seconds(5), seconds(300)), milliseconds(60000));
  EXPECT_EQ(refresh_after(seconds(1), true, seconds(5), seconds(300)), milliseconds(5000));
  EXPECT_EQ(refresh_after(seconds(86400), true, seconds(5), seconds(300)), milliseconds(300000));
  EXPECT_EQ(refresh_after(seconds(0), false, seconds(5), seconds(300)), milliseconds(5000));
}

}  // namespace
}  // namespace sb::dns
