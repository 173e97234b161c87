import CLibXML2

/// Why hwloc refused an XML file, said with libxml2 (loaded only then): the line and message
/// of the first syntax error, or that the file is well-formed XML but not a topology.
enum XMLDiagnosis {
  /// The reason to give for `path`, a readable file hwloc could not load.
  static func reason(for path: String) -> String {
    var line: Int32 = 0
    var code: Int32 = 0
    var message = [CChar](repeating: 0, count: 512)
    switch cxml_check(path, &line, &code, &message, message.count) {
    case CXML_WELL_FORMED.rawValue:
      return "it is well-formed XML but not a topology hwloc can read (export one with `lstopo file.xml`)"
    case CXML_MALFORMED.rawValue:
      // libxml2's messages end in a line feed.
      var bytes = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
      while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: " ") { bytes.removeLast() }
      let text = String(decoding: bytes, as: UTF8.self)
      return "it is not well-formed XML: line \(line): \(text.isEmpty ? "parse error \(code)" : text)"
    default:
      return "it is not XML hwloc can read"
    }
  }
}
