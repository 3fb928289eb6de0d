// Peer bytes escaped for logs and the admin API: printable ASCII stays,
// everything else becomes \xNN, and escaping twice changes nothing.
#include "net/codec/escape.h"

#include <gtest/gtest.h>

#include <string>

namespace sb::net {
namespace {

TEST(Escape, PrintableAsciiStaysAsItIs) {
  const std::string ascii = "220 mx.example ESMTP \"ready\" \\ ~!";
  EXPECT_EQ(escape_bytes(ascii), ascii);
}

TEST(Escape, ControlBytesDelAndHighBytesBecomeHex) {
  EXPECT_EQ(escape_bytes(std::string("220 \xff\xfe ok\r\n", 11)), "220 \\xff\\xfe ok\\x0d\\x0a");
  EXPECT_EQ(escape_bytes(std::string("a\0b\tc\x7f", 6)), "a\\x00b\\x09c\\x7f");
  // Valid UTF-8 too: the output is ASCII whatever the input.
  EXPECT_EQ(escape_bytes("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(escape_bytes(""), "");
}

TEST(Escape, EveryByteComesOutPrintableAndTwiceIsOnce) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string once = escape_bytes(all);
  for (const char c : once) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(static_cast<unsigned char>(c));
  }
  EXPECT_EQ(escape_bytes(once), once);
  EXPECT_EQ(once.size(), 95u + 161u * 4u);  // 95 printable, 161 escaped
}

TEST(Escape, AppendsToAnyBuffer) {
  std::string out = "S: ";
  append_escaped("\x01x", out);
  EXPECT_EQ(out, "S: \\x01x");
}

TEST(Printable, CutsLongLinesAndSaysSo) {
  EXPECT_EQ(printable("short"), "short");
  EXPECT_EQ(printable(std::string(200, 'a')), std::string(200, 'a'));
  EXPECT_EQ(printable(std::string(201, 'a')), std::string(200, 'a') + "...");
  EXPECT_EQ(printable("\xff\xff\xff", 2), "\\xff\\xff...");
}

}  // namespace
}  // namespace sb::net
