// ProbeResult's transcript stays within its caps whatever a server sends.
#include "health/probe.h"

#include <gtest/gtest.h>

#include <string>

namespace sb::health {
namespace {

std::size_t bytes_of(const ProbeResult& r) {
  std::size_t n = 0;
  for (const auto& line : r.transcript) n += line.size();
  return n;
}

TEST(ProbeTranscript, KeepsAnOrdinaryDialogue) {
  ProbeResult r;
  for (const char* line : {"S: 220 mx1 ESMTP", "C: EHLO switchboard", "S: 250 mx1"}) r.note(line);
  EXPECT_EQ(r.transcript,
            (std::vector<std::string>{"S: 220 mx1 ESMTP", "C: EHLO switchboard", "S: 250 mx1"}));
}

TEST(ProbeTranscript, EndlessLinesAreCut) {
  // A SIP server answering 100 Trying again and again.
  ProbeResult r;
  for (int i = 0; i < 10000; ++i) r.note("S: SIP/2.0 100 Trying");
  ASSERT_EQ(r.transcript.size(), kMaxTranscriptLines);
  EXPECT_EQ(r.transcript.back(), kTranscriptCut);
  EXPECT_EQ(r.transcript.front(), "S: SIP/2.0 100 Trying");  // the start is what is kept
}

TEST(ProbeTranscript, LongLinesAreCutByBytes) {
  ProbeResult r;
  for (int i = 0; i < 60; ++i) r.note("S: 250-" + std::string(200, 'x'));
  EXPECT_LT(r.transcript.size(), kMaxTranscriptLines);
  EXPECT_EQ(r.transcript.back(), kTranscriptCut);
  EXPECT_LE(bytes_of(r), kMaxTranscriptBytes + kTranscriptCut.size());
  // Nothing is added after the cut, not even a short line.
  const std::size_t lines = r.transcript.size();
  r.note("C: QUIT");
  EXPECT_EQ(r.transcript.size(), lines);
}

}  // namespace
}  // namespace sb::health
