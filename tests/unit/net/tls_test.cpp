// TLS termination (ServerTls) and the plain-or-TLS Stream, with real
// handshakes on loopback: certificates made at test time by the openssl
// program (a CA, certificates it signs, one signed by another CA, a client
// certificate), a server and a client coroutine on one io_context.
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "net/stream.h"
#include "net/tls_server.h"

namespace sb::net {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The certificates of every test, made once.
class Pki {
 public:
  static const Pki& get() {
    static Pki pki;
    return pki;
  }
  ~Pki() {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& error() const { return error_; }

 private:
  Pki() {
    char tmpl[] = "/tmp/sb-tls-test-XXXXXX";
    if (!mkdtemp(tmpl)) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::ofstream(path("pki.cnf")) << "[req]\n"
                                      "distinguished_name = dn\n"
                                      "[dn]\n"
                                      "[ca]\n"
                                      "basicConstraints = critical,CA:true\n"
                                      "keyUsage = critical,keyCertSign,cRLSign\n"
                                      "subjectKeyIdentifier = hash\n"
                                      "[mail]\n"
                                      "subjectAltName = DNS:mail.example.com\n"
                                      "[wild]\n"
                                      "subjectAltName = DNS:*.example.org\n"
                                      "[cn_only]\n"
                                      "basicConstraints = CA:false\n"
                                      "[client]\n"
                                      "extendedKeyUsage = clientAuth\n";
    // One shell for all: the test binary runs once per test under ctest.
    // EC keys: generated in milliseconds.
    const std::string req =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-config pki.cnf";
    auto make = [&](const std::string& name, const std::string& cn, const std::string& ca,
                    const std::string& ext) {
      std::string signer = ca.empty() ? "" : " -CA " + ca + ".pem -CAkey " + ca + ".key";
      return req + signer + " -extensions " + ext + " -keyout " + name + ".key -out " + name +
             ".pem -subj '/CN=" + cn + "'\n";
    };
    const std::string script = "set -e\ncd " + dir_ + "\n" + make("ca", "Test CA", "", "ca") +
                               make("ca2", "Other CA", "", "ca") +
                               make("mail", "mail.example.com", "ca", "mail") +
                               make("wild", "*.example.org", "ca", "wild") +
                               make("other", "other.example.net", "ca2", "cn_only") +
                               make("client", "client one", "ca", "client");
    std::ofstream(path("make.sh")) << script;
    const std::string log = path("openssl.log");
    if (std::system(("sh " + path("make.sh") + " >" + log + " 2>&1").c_str()) != 0) {
      std::ifstream in(log);
      error_ = "openssl failed:\n" + std::string(std::istreambuf_iterator<char>(in), {});
    }
  }

  std::string dir_;
  std::string error_;
};

struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using Session = std::unique_ptr<SSL_SESSION, SessionFree>;

struct Client {
  std::shared_ptr<asio::ssl::context> context;
  std::string sni;
  std::string verify_host;
  std::function<void(SSL*)> setup;  // before the handshake
};

struct Outcome {
  bool finished = false;  // both sides ran to their end
  error_code server_ec;
  std::string server_alpn, server_version, server_sni;
  bool server_saw_client_certificate = false;
  error_code client_ec;
  bool client_got_data = false;  // the server's first byte after the handshake
  std::string client_alpn, peer_cn;
  bool reused = false;
  Session session;
};

std::string subject_cn(X509* cert) {
  if (!cert) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  return cn;
}

// One connection: the server handshakes with `server_context` (after reading
// `preread` bytes off the socket itself), sends "x" and shuts down; the
// client handshakes, reads the "x" and shuts down.
Outcome exchange(std::shared_ptr<asio::ssl::context> server_context, const Client& client,
                 std::size_t preread = 0) {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  Outcome o;
  int finished = 0;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto [aec, socket] = co_await acceptor.async_accept(use_nothrow);
        std::array<char, 16> first{};
        if (!aec && preread > 0) {
          auto [rec, n] =
              co_await asio::async_read(socket, asio::buffer(first.data(), preread), use_nothrow);
          aec = rec;
        }
        if (aec) {
          o.server_ec = aec;
          ++finished;
          co_return;
        }
        Stream s(std::move(socket), server_context);
        o.server_ec = co_await s.handshake_server(asio::buffer(first.data(), preread));
        if (!o.server_ec) {
          o.server_alpn = negotiated_alpn(s.ssl());
          o.server_version = tls_version(s.ssl());
          o.server_sni = server_name(s.ssl());
          o.server_saw_client_certificate = SSL_get0_peer_certificate(s.ssl()) != nullptr;
          co_await asio::async_write(s, asio::buffer("x", 1), use_nothrow);
          co_await s.shutdown();
        }
        ++finished;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        tcp::socket socket(io);
        auto [cec] = co_await socket.async_connect(acceptor.local_endpoint(), use_nothrow);
        if (cec) {
          o.client_ec = cec;
          ++finished;
          co_return;
        }
        Stream s(std::move(socket), client.context);
        if (client.setup) client.setup(s.ssl());
        o.client_ec = co_await s.handshake_client(client.sni, client.verify_host);
        if (!o.client_ec) {
          o.client_alpn = negotiated_alpn(s.ssl());
          o.peer_cn = subject_cn(SSL_get0_peer_certificate(s.ssl()));
          o.reused = SSL_session_reused(s.ssl()) == 1;
          // TLS 1.3: a server that refuses the client's certificate says so
          // after the client's side of the handshake is done; reading shows
          // it. The read also takes in the session tickets.
          char c = 0;
          auto [rec, n] = co_await asio::async_read(s, asio::buffer(&c, 1), use_nothrow);
          o.client_got_data = !rec && n == 1 && c == 'x';
          o.session.reset(SSL_get1_session(s.ssl()));
          co_await s.shutdown();
        }
        ++finished;
      },
      asio::detached);
  io.run_for(3s);
  o.finished = finished == 2;
  return o;
}

std::shared_ptr<asio::ssl::context> plain_client() {
  std::string why;
  auto c = make_client_tls(false, "", why);
  EXPECT_TRUE(c) << why;
  return c;
}

std::function<void(SSL*)> offer_alpn(std::vector<std::string> protocols) {
  return [protocols](SSL* ssl) {
    std::string wire;
    for (const auto& p : protocols) wire += static_cast<char>(p.size()) + p;
    ASSERT_EQ(SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                                  static_cast<unsigned>(wire.size())),
              0);  // 0 is success here
  };
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pki_.error().empty()) << pki_.error(); }

  TlsServerSettings settings() const {
    TlsServerSettings s;
    s.certificates = {{pki_.path("mail.pem"), pki_.path("mail.key")},
                      {pki_.path("wild.pem"), pki_.path("wild.key")},
                      {pki_.path("other.pem"), pki_.path("other.key")}};
    s.alpn = {"h2", "http/1.1"};
    s.session_context = "https-front";
    return s;
  }
  std::shared_ptr<ServerTls> load(const TlsServerSettings& s) const {
    std::string why;
    auto tls = ServerTls::load(s, why);
    EXPECT_TRUE(tls) << why;
    return tls;
  }
  // The CN of the certificate the server presents for `sni`.
  std::string certificate_for(const std::string& sni) {
    auto tls = load(settings());
    if (!tls) return "(not loaded)";
    Outcome o = exchange(tls->context(), {plain_client(), sni, "", {}});
    EXPECT_TRUE(o.finished);
    EXPECT_FALSE(o.client_ec) << o.client_ec.message();
    EXPECT_TRUE(o.client_got_data);
    return o.peer_cn;
  }

  const Pki& pki_ = Pki::get();
};

TEST_F(TlsTest, NamesComeFromSubjectAltNamesElseTheCommonName) {
  auto tls = load(settings());
  ASSERT_TRUE(tls);
  using Names = std::vector<std::vector<std::string>>;
  EXPECT_EQ(tls->names(), (Names{{"mail.example.com"}, {"*.example.org"}, {"other.example.net"}}));
}

TEST_F(TlsTest, SniPicksTheExactNameThenAWildcardThenTheFirst) {
  EXPECT_EQ(certificate_for("mail.example.com"), "mail.example.com");
  EXPECT_EQ(certificate_for("MAIL.Example.COM"), "mail.example.com");
  EXPECT_EQ(certificate_for("other.example.net"), "other.example.net");  // by its CN
  EXPECT_EQ(certificate_for("x.example.org"), "*.example.org");
  // A wildcard stands for one label only.
  EXPECT_EQ(certificate_for("a.x.example.org"), "mail.example.com");
  EXPECT_EQ(certificate_for("example.org"), "mail.example.com");
  EXPECT_EQ(certificate_for("unknown.example.net"), "mail.example.com");
  // No SNI at all (an IP literal is never sent as one).
  EXPECT_EQ(certificate_for("127.0.0.1"), "mail.example.com");
  EXPECT_EQ(certificate_for(""), "mail.example.com");
}

TEST_F(TlsTest, TheServerReportsWhatWasNegotiated) {
  auto tls = load(settings());
  ASSERT_TRUE(tls);
  Outcome o = exchange(tls->context(), {plain_client(), "x.example.org", "", {}});
  ASSERT_TRUE(o.finished);
  ASSERT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_EQ(o.server_sni, "x.example.org");
  EXPECT_EQ(o.server_version, "TLSv1.3");
  EXPECT_EQ(o.server_alpn, "");
  EXPECT_FALSE(o.server_saw_client_certificate);

  o = exchange(tls->context(), {plain_client(), "127.0.0.1", "", {}});
  ASSERT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_EQ(o.server_sni, "");
}

TEST_F(TlsTest, AlpnFollowsTheConfiguredOrder) {
  auto tls = load(settings());
  ASSERT_TRUE(tls);
  Outcome o = exchange(tls->context(),
                       {plain_client(), "mail.example.com", "", offer_alpn({"http/1.1", "h2"})});
  ASSERT_TRUE(o.finished);
  ASSERT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_EQ(o.server_alpn, "h2");  // the listener's order, not the client's
  EXPECT_EQ(o.client_alpn, "h2");

  auto s = settings();
  s.alpn = {"http/1.1", "h2"};
  auto http11_first = load(s);
  ASSERT_TRUE(http11_first);
  o = exchange(http11_first->context(),
               {plain_client(), "mail.example.com", "", offer_alpn({"h2", "http/1.1"})});
  ASSERT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_EQ(o.server_alpn, "http/1.1");

  // After an SNI switch the chosen certificate's context answers ALPN.
  o = exchange(tls->context(), {plain_client(), "x.example.org", "", offer_alpn({"http/1.1"})});
  ASSERT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_EQ(o.peer_cn, "*.example.org");
  EXPECT_EQ(o.server_alpn, "http/1.1");

  // Nothing in common: the handshake goes on without ALPN.
  for (auto offer : {std::vector<std::string>{"spdy/3"}, std::vector<std::string>{"h3"}}) {
    o = exchange(tls->context(), {plain_client(), "mail.example.com", "", offer_alpn(offer)});
    ASSERT_FALSE(o.server_ec) << offer[0] << ": " << o.server_ec.message();
    EXPECT_TRUE(o.client_got_data);
    EXPECT_EQ(o.server_alpn, "") << offer[0];
  }

  o = exchange(tls->context(), {plain_client(), "mail.example.com", "", {}});
  ASSERT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_EQ(o.server_alpn, "");
  EXPECT_EQ(o.client_alpn, "");
}

TEST_F(TlsTest, MinVersionRefusesOlderClients) {
  auto s = settings();
  s.min_version = "1.3";
  auto tls = load(s);
  ASSERT_TRUE(tls);
  auto cap_at_12 = [](SSL* ssl) { SSL_set_max_proto_version(ssl, TLS1_2_VERSION); };
  Outcome o = exchange(tls->context(), {plain_client(), "mail.example.com", "", cap_at_12});
  ASSERT_TRUE(o.finished);
  EXPECT_TRUE(o.server_ec);
  EXPECT_TRUE(o.client_ec);

  // The default, 1.2, takes it.
  tls = load(settings());
  ASSERT_TRUE(tls);
  o = exchange(tls->context(), {plain_client(), "mail.example.com", "", cap_at_12});
  ASSERT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_EQ(o.server_version, "TLSv1.2");
  EXPECT_TRUE(o.client_got_data);
}

class ClientCertificateTest : public TlsTest {
 protected:
  std::function<void(SSL*)> present_client_certificate() const {
    std::string cert = pki_.path("client.pem"), key = pki_.path("client.key");
    return [cert, key](SSL* ssl) {
      ASSERT_EQ(SSL_use_certificate_file(ssl, cert.c_str(), SSL_FILETYPE_PEM), 1);
      ASSERT_EQ(SSL_use_PrivateKey_file(ssl, key.c_str(), SSL_FILETYPE_PEM), 1);
    };
  }
  std::shared_ptr<ServerTls> load_verifying(TlsServerSettings::VerifyClient verify) const {
    auto s = settings();
    s.client_ca = pki_.path("ca.pem");
    s.verify_client = verify;
    return load(s);
  }
};

TEST_F(ClientCertificateTest, RequiredRefusesAClientWithoutOne) {
  auto tls = load_verifying(TlsServerSettings::VerifyClient::required);
  ASSERT_TRUE(tls);
  for (std::string sni : {"mail.example.com", "x.example.org"}) {  // also after an SNI switch
    Outcome o = exchange(tls->context(), {plain_client(), sni, "", {}});
    ASSERT_TRUE(o.finished);
    EXPECT_TRUE(o.server_ec) << sni;
    EXPECT_FALSE(o.client_got_data) << sni;

    o = exchange(tls->context(), {plain_client(), sni, "", present_client_certificate()});
    ASSERT_TRUE(o.finished);
    EXPECT_FALSE(o.server_ec) << sni << ": " << o.server_ec.message();
    EXPECT_TRUE(o.server_saw_client_certificate) << sni;
    EXPECT_TRUE(o.client_got_data) << sni;
  }
}

TEST_F(ClientCertificateTest, RequiredRefusesACertificateFromAnotherCa) {
  auto tls = load_verifying(TlsServerSettings::VerifyClient::required);
  ASSERT_TRUE(tls);
  std::string cert = pki_.path("other.pem"), key = pki_.path("other.key");
  auto other = [cert, key](SSL* ssl) {
    SSL_use_certificate_file(ssl, cert.c_str(), SSL_FILETYPE_PEM);
    SSL_use_PrivateKey_file(ssl, key.c_str(), SSL_FILETYPE_PEM);
  };
  Outcome o = exchange(tls->context(), {plain_client(), "mail.example.com", "", other});
  ASSERT_TRUE(o.finished);
  EXPECT_TRUE(o.server_ec);
  EXPECT_FALSE(o.client_got_data);
}

TEST_F(ClientCertificateTest, OptionalTakesClientsWithAndWithout) {
  auto tls = load_verifying(TlsServerSettings::VerifyClient::optional);
  ASSERT_TRUE(tls);
  Outcome o = exchange(tls->context(), {plain_client(), "mail.example.com", "", {}});
  ASSERT_TRUE(o.finished);
  EXPECT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_FALSE(o.server_saw_client_certificate);
  EXPECT_TRUE(o.client_got_data);

  o = exchange(tls->context(),
               {plain_client(), "mail.example.com", "", present_client_certificate()});
  ASSERT_TRUE(o.finished);
  EXPECT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_TRUE(o.server_saw_client_certificate);
  EXPECT_TRUE(o.client_got_data);
}

// TLS 1.3 resumes by ticket, TLS 1.2 without tickets by the session cache.
TEST_F(TlsTest, SessionsResume) {
  auto tls = load(settings());
  ASSERT_TRUE(tls);
  for (bool tls12_cache : {false, true}) {
    auto client = plain_client();
    auto setup = [tls12_cache](SSL* ssl) {
      if (!tls12_cache) return;
      SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
      SSL_set_options(ssl, SSL_OP_NO_TICKET);
    };
    Outcome first = exchange(tls->context(), {client, "x.example.org", "", setup});
    ASSERT_TRUE(first.finished);
    ASSERT_FALSE(first.server_ec) << first.server_ec.message();
    ASSERT_TRUE(first.session);
    EXPECT_FALSE(first.reused);
    ASSERT_EQ(SSL_SESSION_is_resumable(first.session.get()), 1) << tls12_cache;

    SSL_SESSION* saved = first.session.get();
    Outcome second = exchange(tls->context(), {client, "x.example.org", "", [&](SSL* ssl) {
                                                 setup(ssl);
                                                 SSL_set_session(ssl, saved);
                                               }});
    ASSERT_TRUE(second.finished);
    ASSERT_FALSE(second.server_ec) << second.server_ec.message();
    EXPECT_TRUE(second.reused) << "TLS 1.2 session cache: " << tls12_cache;
    EXPECT_TRUE(second.client_got_data);
  }
}

// With client certificates verified, OpenSSL resumes only sessions of a
// known session id context (a session must not skip a verification another
// listener did not ask for).
TEST_F(ClientCertificateTest, SessionsResumeWithClientCertificates) {
  auto tls = load_verifying(TlsServerSettings::VerifyClient::required);
  ASSERT_TRUE(tls);
  for (bool tls12_cache : {false, true}) {
    auto client = plain_client();
    auto with_certificate = present_client_certificate();
    auto setup = [tls12_cache, with_certificate](SSL* ssl) {
      with_certificate(ssl);
      if (!tls12_cache) return;
      SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
      SSL_set_options(ssl, SSL_OP_NO_TICKET);
    };
    Outcome first = exchange(tls->context(), {client, "mail.example.com", "", setup});
    ASSERT_FALSE(first.server_ec) << first.server_ec.message();
    ASSERT_TRUE(first.session);
    SSL_SESSION* saved = first.session.get();
    Outcome second = exchange(tls->context(), {client, "mail.example.com", "", [&](SSL* ssl) {
                                                 setup(ssl);
                                                 SSL_set_session(ssl, saved);
                                               }});
    ASSERT_TRUE(second.finished);
    EXPECT_FALSE(second.server_ec) << second.server_ec.message();
    EXPECT_TRUE(second.reused) << "TLS 1.2 session cache: " << tls12_cache;
    EXPECT_TRUE(second.client_got_data);
  }
}

TEST_F(TlsTest, LoadNamesTheFileThatCannotBeUsed) {
  std::string why;
  auto s = settings();
  s.certificates[1].cert = pki_.path("missing.pem");
  EXPECT_FALSE(ServerTls::load(s, why));
  EXPECT_NE(why.find(pki_.path("missing.pem")), std::string::npos) << why;
  EXPECT_NE(why.find("No such file"), std::string::npos) << why;

  why.clear();
  s = settings();
  s.certificates[0].key = pki_.path("wild.key");  // another certificate's key
  EXPECT_FALSE(ServerTls::load(s, why));
  EXPECT_NE(why.find(pki_.path("wild.key")), std::string::npos) << why;
  EXPECT_NE(why.find("does not match certificate " + pki_.path("mail.pem")), std::string::npos)
      << why;

  why.clear();
  s = settings();
  s.certificates[2].key = pki_.path("pki.cnf");  // not a key at all
  EXPECT_FALSE(ServerTls::load(s, why));
  EXPECT_NE(why.find(pki_.path("pki.cnf")), std::string::npos) << why;

  why.clear();
  s = settings();
  s.client_ca = pki_.path("missing-ca.pem");
  s.verify_client = TlsServerSettings::VerifyClient::required;
  EXPECT_FALSE(ServerTls::load(s, why));
  EXPECT_NE(why.find(pki_.path("missing-ca.pem")), std::string::npos) << why;

  for (auto change : std::vector<std::function<void(TlsServerSettings&)>>{
           [](TlsServerSettings& t) { t.certificates.clear(); },
           [](TlsServerSettings& t) { t.min_version = "1.1"; },
           [](TlsServerSettings& t) {
             t.verify_client = TlsServerSettings::VerifyClient::optional;  // no client_ca
           },
       }) {
    why.clear();
    s = settings();
    change(s);
    EXPECT_FALSE(ServerTls::load(s, why));
    EXPECT_FALSE(why.empty());
  }
}

TEST_F(TlsTest, AConnectionOutlivesItsServerTls) {
  auto tls = load(settings());
  ASSERT_TRUE(tls);
  auto context = tls->context();
  tls.reset();  // a reload dropped it; the SNI callback still runs
  Outcome o = exchange(context, {plain_client(), "x.example.org", "", offer_alpn({"http/1.1"})});
  ASSERT_TRUE(o.finished);
  ASSERT_FALSE(o.server_ec) << o.server_ec.message();
  EXPECT_EQ(o.peer_cn, "*.example.org");
  EXPECT_EQ(o.server_alpn, "http/1.1");
}

TEST_F(TlsTest, ClientVerifiesTheServerWhenAsked) {
  auto tls = load(settings());
  ASSERT_TRUE(tls);
  std::string why;
  auto right = make_client_tls(true, pki_.path("ca.pem"), why);
  ASSERT_TRUE(right) << why;
  auto wrong = make_client_tls(true, pki_.path("ca2.pem"), why);
  ASSERT_TRUE(wrong) << why;

  Outcome o = exchange(tls->context(), {right, "mail.example.com", "mail.example.com", {}});
  ASSERT_TRUE(o.finished);
  EXPECT_FALSE(o.client_ec) << o.client_ec.message();
  EXPECT_TRUE(o.client_got_data);
  o = exchange(tls->context(), {right, "x.example.org", "x.example.org", {}});
  EXPECT_FALSE(o.client_ec) << o.client_ec.message();

  // Another name than the certificate's.
  o = exchange(tls->context(), {right, "mail.example.com", "www.example.com", {}});
  ASSERT_TRUE(o.finished);
  EXPECT_TRUE(o.client_ec);
  EXPECT_FALSE(o.client_got_data);
  // Signed by a CA the client does not trust.
  o = exchange(tls->context(), {wrong, "mail.example.com", "mail.example.com", {}});
  ASSERT_TRUE(o.finished);
  EXPECT_TRUE(o.client_ec);
  EXPECT_FALSE(o.client_got_data);
  // Not verifying: anything goes.
  o = exchange(tls->context(), {plain_client(), "mail.example.com", "www.example.com", {}});
  EXPECT_FALSE(o.client_ec) << o.client_ec.message();
  EXPECT_TRUE(o.client_got_data);

  why.clear();
  EXPECT_FALSE(make_client_tls(true, pki_.path("missing-ca.pem"), why));
  EXPECT_NE(why.find(pki_.path("missing-ca.pem")), std::string::npos) << why;
}

// The front door reads the first bytes before it knows the connection is TLS.
TEST_F(TlsTest, HandshakeServerTakesBytesAlreadyRead) {
  auto tls = load(settings());
  ASSERT_TRUE(tls);
  for (std::size_t preread : {1, 5, 11}) {
    Outcome o = exchange(tls->context(), {plain_client(), "x.example.org", "", {}}, preread);
    ASSERT_TRUE(o.finished);
    EXPECT_FALSE(o.server_ec) << preread << ": " << o.server_ec.message();
    EXPECT_EQ(o.server_sni, "x.example.org");
    EXPECT_TRUE(o.client_got_data) << preread;
  }
}

// A peer that neither answers close_notify nor closes cannot hold shutdown().
TEST_F(TlsTest, ShutdownDoesNotWaitForThePeer) {
  auto tls = load(settings());
  ASSERT_TRUE(tls);
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::chrono::steady_clock::duration took{};
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto [aec, socket] = co_await acceptor.async_accept(use_nothrow);
        Stream s(std::move(socket), tls->context());
        auto ec = co_await s.handshake_server({});
        EXPECT_FALSE(ec) << ec.message();
        auto start = std::chrono::steady_clock::now();
        co_await s.shutdown();
        took = std::chrono::steady_clock::now() - start;
        done = true;
      },
      asio::detached);
  tcp::socket client_socket(io);
  client_socket.connect(acceptor.local_endpoint());
  Stream client(std::move(client_socket), plain_client());
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto ec = co_await client.handshake_client("mail.example.com", "");
        EXPECT_FALSE(ec) << ec.message();
        // and then silence, the socket open
      },
      asio::detached);
  const auto end = std::chrono::steady_clock::now() + 3s;
  while (!done && std::chrono::steady_clock::now() < end) io.run_one_for(20ms);
  ASSERT_TRUE(done);
  EXPECT_LT(took, 500ms);
}

TEST(StreamTest, PlainStreamsHaveNoTls) {
  asio::io_context io;
  Stream s{tcp::socket(io)};
  EXPECT_FALSE(s.is_tls());
  EXPECT_EQ(s.ssl(), nullptr);
  EXPECT_EQ(negotiated_alpn(nullptr), "");
  EXPECT_EQ(tls_version(nullptr), "");
  EXPECT_EQ(server_name(nullptr), "");
  error_code ec;
  asio::co_spawn(
      io, [&]() -> awaitable<void> { ec = co_await s.handshake_server({}); }, asio::detached);
  io.run_for(1s);
  EXPECT_EQ(ec, asio::error::operation_not_supported);
}

}  // namespace
}  // namespace sb::net
