import Crypto
import Foundation

/// The challenge with which both ends of a ``Listener``'s connection prove they hold the same
/// key, as Python's `multiprocessing.connection` does, so that either end may be Python's.
///
/// The side that delivers sends `#CHALLENGE#{sha256}` and 40 random bytes; the other answers
/// `{sha256}` and the HMAC-SHA256, under the key, of everything after `#CHALLENGE#`, and is
/// told `#WELCOME#` or `#FAILURE#`. The listener delivers first, then answers the client's
/// challenge. An answer in Python 3.11's form (a bare 16-byte HMAC-MD5) is accepted, and a
/// challenge in that form (20 bytes, no digest name) is answered in it, as Python 3.12 does.
enum ConnectionAuthentication {
  static let challenge = Array("#CHALLENGE#".utf8)
  static let welcome = Array("#WELCOME#".utf8)
  static let failure = Array("#FAILURE#".utf8)
  /// The digest name that starts a challenge and its answer.
  static let sha256 = Array("{sha256}".utf8)
  /// The lengths of a challenge in the legacy form, which names no digest.
  static let legacyLengths: Set<Int> = [16, 20]
  /// The longest handshake message read: a peer that sends more is not speaking it.
  static let longestMessage = 256

  /// Both ends' proofs on a new connection, the listener's challenge first (Python's order);
  /// the connection is closed when they fail.
  ///
  /// - Throws: ``ConnectionError/authenticationFailed(_:)``, also for a handshake the
  ///   connection broke off.
  static func handshake(on connection: Connection, key: [UInt8], asListener: Bool) throws(ConnectionError) {
    do throws(ConnectionError) {
      if asListener {
        try deliver(on: connection, key: key)
        try answer(on: connection, key: key)
      } else {
        try answer(on: connection, key: key)
        try deliver(on: connection, key: key)
      }
    } catch {
      connection.close()
      if case .authenticationFailed = error { throw error }
      throw .authenticationFailed("the handshake broke off: \(error)")
    }
  }

  /// Challenges the peer to prove it holds `key`.
  ///
  /// - Throws: ``ConnectionError/authenticationFailed(_:)`` (the peer was told `#FAILURE#`),
  ///   or the connection's error.
  static func deliver(on connection: Connection, key: [UInt8]) throws(ConnectionError) {
    var random = SystemRandomNumberGenerator()
    let message = sha256 + (0..<40).map { _ in UInt8.random(in: .min ... .max, using: &random) }
    try connection.sendBytes(challenge + message)
    let response = try receive(on: connection)
    guard isValid(response, for: message, key: key) else {
      try? connection.sendBytes(failure)
      throw .authenticationFailed("the peer's answer to the challenge is not the HMAC of this key")
    }
    try connection.sendBytes(welcome)
  }

  /// How long a client waits for the listener's challenge: one without a key never sends
  /// one, and both ends would wait for the other for ever.
  static let challengeTimeout = Duration.seconds(30)

  /// Answers the peer's challenge with `key`, waiting for it up to `timeout`.
  ///
  /// - Throws: ``ConnectionError/authenticationFailed(_:)`` when the peer sends no challenge
  ///   or rejects the answer, or the connection's error.
  static func answer(
    on connection: Connection, key: [UInt8], timeout: Duration = challengeTimeout
  ) throws(ConnectionError) {
    guard try connection.poll(timeout: timeout) else {
      throw .authenticationFailed("no challenge came in \(timeout): does the peer use an authentication key?")
    }
    let received = try receive(on: connection)
    guard received.starts(with: challenge), received.count >= challenge.count + 20 else {
      throw .authenticationFailed("the peer sent no challenge (does it use an authentication key?)")
    }
    let message = Array(received[challenge.count...])
    guard let response = response(to: message, key: key) else {
      throw .authenticationFailed("the peer's challenge names a digest other than sha256 and md5")
    }
    try connection.sendBytes(response)
    guard try receive(on: connection) == welcome else {
      throw .authenticationFailed("the peer rejected this key")
    }
  }

  /// A handshake message, refused over ``longestMessage`` bytes.
  private static func receive(on connection: Connection) throws(ConnectionError) -> [UInt8] {
    do { return try connection.recvBytes(maxLength: longestMessage) } catch .messageOverLimit {
      throw .authenticationFailed("the peer sent a message too long for the handshake")
    }
  }

  /// The answer to `message`: `{sha256}` and its HMAC-SHA256 when it starts `{sha256}`, its
  /// bare HMAC-MD5 in the legacy form (no digest name); nil for another digest.
  ///
  /// A legacy challenge is 20 random bytes (16 in older Pythons), which start with `{` one
  /// time in 256: as CPython does, those lengths are legacy whatever their first byte, and
  /// every message naming a digest is longer.
  static func response(to message: [UInt8], key: [UInt8]) -> [UInt8]? {
    let key = SymmetricKey(data: key)
    if message.first == UInt8(ascii: "{"), !legacyLengths.contains(message.count) {
      guard message.starts(with: sha256) else { return nil }
      return sha256 + Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }
    return Array(HMAC<Insecure.MD5>.authenticationCode(for: message, using: key))
  }

  /// Whether `response` is the HMAC of `message` under `key`: `{sha256}` and 32 bytes, or a
  /// bare 16-byte HMAC-MD5 (compared in constant time).
  static func isValid(_ response: [UInt8], for message: [UInt8], key: [UInt8]) -> Bool {
    let key = SymmetricKey(data: key)
    if response.starts(with: sha256) {
      return HMAC<SHA256>.isValidAuthenticationCode(response[sha256.count...], authenticating: message, using: key)
    }
    guard response.count == Insecure.MD5.byteCount else { return false }
    return HMAC<Insecure.MD5>.isValidAuthenticationCode(response, authenticating: message, using: key)
  }
}
