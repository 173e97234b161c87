import CLibXML2

/// Why hwloc refused an XML file, said with libxml2 (the parser hwloc's own XML backend
/// uses): the line and message of the first syntax error, or that the file is well-formed
/// XML but not a topology.
enum XMLDiagnosis {
  /// The reason to give for `path`, a readable file hwloc could not load.
  static func reason(for path: String) -> String {
    // No network access, no messages printed to standard error: the error is read back below.
    let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
    xmlResetLastError()
    if let document = xmlReadFile(path, nil, options) {
      xmlFreeDoc(document)
      return "it is well-formed XML but not a topology hwloc can read (export one with `lstopo file.xml`)"
    }
    guard let error = xmlGetLastError() else { return "it is not XML hwloc can read" }
    let message = error.pointee.message.map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines)
    return "it is not well-formed XML: line \(error.pointee.line): \(message ?? "parse error \(error.pointee.code)")"
  }
}
