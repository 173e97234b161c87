import Foundation
import Yams

/// How a report is written: JSON (stdout with `--json`, or a file) or YAML (a file ending in
/// `.yaml` or `.yml`, as stress-ng's `--yaml` writes).
enum ReportFormat {
  case json, yaml

  /// The format a file's extension names; JSON unless it is `.yaml` or `.yml`.
  init(path: String) {
    let suffix = URL(fileURLWithPath: path).pathExtension.lowercased()
    self = suffix == "yaml" || suffix == "yml" ? .yaml : .json
  }

  /// `report` in this format, keys sorted.
  func encode(_ report: some Encodable) throws -> Data {
    switch self {
    case .json:
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      return try encoder.encode(report)
    case .yaml:
      let encoder = YAMLEncoder()
      encoder.options.sortKeys = true
      return Data(try encoder.encode(report).utf8)
    }
  }
}
