import Testing

@testable import Multiprocessing

/// The handshake's digests, message by message, as CPython's `connection.py` reads them.
@Suite(.timeLimit(.minutes(3)))
struct ConnectionAuthenticationTests {
  static let key = Array("secret".utf8)

  /// Python 3.11's challenge is 20 random bytes; one in 256 starts with `{`, and was refused
  /// as naming an unknown digest (seen once in CI). Legacy lengths answer in HMAC-MD5 whatever
  /// their first byte.
  @Test(arguments: [16, 20])
  func aLegacyChallengeStartingWithABraceIsAnsweredInMD5(length: Int) throws {
    let message = [UInt8(ascii: "{")] + [UInt8](repeating: 7, count: length - 1)
    let response = try #require(ConnectionAuthentication.response(to: message, key: Self.key))
    // A bare 16-byte HMAC-MD5 of the message under the key (which isValid checks).
    #expect(response.count == 16 && !response.starts(with: ConnectionAuthentication.sha256))
    #expect(ConnectionAuthentication.isValid(response, for: message, key: Self.key))
    #expect(!ConnectionAuthentication.isValid(response, for: message, key: Array("other".utf8)))
  }

  @Test func aNamedDigestIsAnsweredInItAndAnUnknownOneIsRefused() throws {
    let message = ConnectionAuthentication.sha256 + [UInt8](repeating: 9, count: 40)
    let response = try #require(ConnectionAuthentication.response(to: message, key: Self.key))
    #expect(response.starts(with: ConnectionAuthentication.sha256))
    #expect(ConnectionAuthentication.isValid(response, for: message, key: Self.key))
    #expect(ConnectionAuthentication.response(to: Array("{sha512}".utf8) + message, key: Self.key) == nil)
  }
}
