#include "proxy/protocols/smtp/message_record.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace sb::runtime::smtp {
namespace {

std::string read_all(const MessageRecord& r, std::size_t piece) {
  std::string out;
  std::string buf(piece, '\0');
  std::uint64_t offset = 0;
  for (;;) {
    const std::size_t n = r.read(offset, {buf.data(), buf.size()});
    if (n == 0) break;
    out.append(buf.data(), n);
    offset += n;
  }
  return out;
}

// Entries of `dir` other than . and ..
int entries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  ::closedir(d);
  return n;
}

class MessageRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sb-spool-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ::rmdir(dir_.c_str()); }
  std::string dir_;
};

TEST_F(MessageRecordTest, SmallMessagesStayInMemory) {
  MessageRecord r(dir_, 64);
  ASSERT_TRUE(r.append("Subject: x\r\n\r\n..dot\r\n"));
  ASSERT_TRUE(r.append(".\r\n"));
  r.drop_last(3);
  EXPECT_FALSE(r.spooled());
  EXPECT_EQ(r.size(), 21u);
  EXPECT_EQ(read_all(r, 5), "Subject: x\r\n\r\n..dot\r\n");
  r.clear();
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(read_all(r, 5), "");
}

TEST_F(MessageRecordTest, LargeMessagesGoToAFileNoOneCanSee) {
  MessageRecord r(dir_, 100);
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    const std::string line = "line " + std::to_string(i) + " \xff\x01 bytes as they came\r\n";
    expected += line;
    ASSERT_TRUE(r.append(line));
  }
  ASSERT_TRUE(r.append(".\r\n"));
  r.drop_last(3);
  EXPECT_TRUE(r.spooled());
  EXPECT_EQ(r.size(), expected.size());
  EXPECT_EQ(read_all(r, 7), expected);
  EXPECT_EQ(read_all(r, 4096), expected);  // read again: a replay re-reads it
  // Unlinked from the start: the directory stays empty.
  EXPECT_EQ(entries(dir_), 0);
  r.clear();
  EXPECT_FALSE(r.spooled());
  ASSERT_TRUE(r.append("next"));
  EXPECT_EQ(read_all(r, 2), "next");
}

TEST_F(MessageRecordTest, ASpoolDirectoryThatIsNotThereIsAnError) {
  MessageRecord r(dir_ + "/missing", 4);
  EXPECT_TRUE(r.append("1234"));
  EXPECT_FALSE(r.append("5"));
  EXPECT_NE(r.error().find("missing"), std::string::npos) << r.error();
  EXPECT_FALSE(r.append("6"));  // stays failed until cleared
  r.clear();
  EXPECT_TRUE(r.error().empty());
}

TEST(DefaultSpoolDir, IsTmpdirWhenAbsolute) {
  const char* saved = std::getenv("TMPDIR");
  const std::string keep = saved ? saved : "";
  ::setenv("TMPDIR", "/var/tmp", 1);
  EXPECT_EQ(default_spool_dir(), "/var/tmp");
  ::setenv("TMPDIR", "relative", 1);
  EXPECT_EQ(default_spool_dir(), "/tmp");
  if (saved) {
    ::setenv("TMPDIR", keep.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
}

}  // namespace
}  // namespace sb::runtime::smtp
