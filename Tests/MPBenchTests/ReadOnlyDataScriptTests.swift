import Foundation
import Testing

/// `Scripts/read-only-data.ld`, with which `Scripts/build-release` links: a program with one
/// writable section named `.rodata` (as the Swift compiler and Foundation's archives emit) and
/// one read-only constant, linked by the toolchain's lld with and without the script, reports
/// the permissions of the mappings its two objects lie in.
@Suite struct ReadOnlyDataScriptTests {
  static let scripts = repositoryPath("Scripts")

  /// Prints, for the constant and for the writable `.rodata` object, the permissions of the
  /// mapping (from `/proc/self/maps`) that holds it.
  static let program = #"""
    #include <stdio.h>
    #include <stdint.h>
    __asm__(".section .rodata,\"aw\",@progbits,unique,1\n.globl writable_rodata\nwritable_rodata: .quad 7\n.previous\n");
    extern const long writable_rodata;
    const long constant_table[4] = {1, 2, 3, 4};
    static void show(const char *name, const void *address) {
      FILE *maps = fopen("/proc/self/maps", "r");
      unsigned long low, high;
      char permissions[5];
      char rest[512];
      while (fscanf(maps, "%lx-%lx %4s", &low, &high, permissions) == 3) {
        if ((uintptr_t)address >= low && (uintptr_t)address < high) printf("%s %s\n", name, permissions);
        if (!fgets(rest, sizeof rest, maps)) break;
      }
      fclose(maps);
    }
    int main(void) {
      show("constant", constant_table);
      show("writable", &writable_rodata);
      return (int)(constant_table[0] + writable_rodata) - 8;
    }
    """#

  /// The toolchain's `clang` (beside the `swift` on `PATH`), which finds its `ld.lld`.
  static func toolchainClang() throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/swift") {
      return "\(folder)/clang"
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "swift on PATH"])
  }

  /// Links the program with lld, position-dependent as `Scripts/build-release` links, with the
  /// script or without, runs it and returns each object's mapping permissions by name.
  func permissions(withScript: Bool, in directory: String) throws -> [String: String] {
    let output = "\(directory)/program-\(withScript)"
    var arguments = ["-O1", "-no-pie", "-fuse-ld=lld", "-fdata-sections", "\(directory)/program.c", "-o", output]
    if withScript { arguments.append("-Wl,--script=\(Self.scripts)/read-only-data.ld") }
    let link = try runExecutable(try Self.toolchainClang(), arguments)
    #expect(link.status == 0, "\(link.stderr)")
    let run = try runExecutable(output, [])
    #expect(run.status == 0, "\(run.stderr)")
    var found: [String: String] = [:]
    for line in run.stdout.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count == 2 { found[String(fields[0])] = String(fields[1]) }
    }
    return found
  }

  /// Without the script the constant shares the writable mapping (the union of the inputs'
  /// flags); with it, the constant lies in a read-only, private mapping and the writable
  /// object still in a writable one.
  @Test func theConstantLeavesTheWritableMapping() throws {
    try withTemporaryDirectory("rodata") { directory in
      try Self.program.write(toFile: "\(directory)/program.c", atomically: true, encoding: .utf8)

      let without = try permissions(withScript: false, in: directory)
      #expect(without["constant"] == "rw-p", "\(without)")
      #expect(without["writable"] == "rw-p", "\(without)")

      let with = try permissions(withScript: true, in: directory)
      #expect(with["constant"] == "r--p", "\(with)")
      #expect(with["writable"] == "rw-p", "\(with)")
    }
  }
}
