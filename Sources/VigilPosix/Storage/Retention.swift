import Glibc
import VigilCore

/// How long and how much the host store keeps; nil means no limit.
public struct StoreRetention: Sendable, Equatable {
    /// Day files are kept while `today - day < maxAgeDays` (so 1 keeps only today's files).
    public var maxAgeDays: Int?
    /// After the age rule, the oldest day files are deleted until all of them together fit.
    public var maxTotalBytes: Int64?

    /// Limits by age in days and by total size in bytes; the defaults keep everything.
    public init(maxAgeDays: Int? = nil, maxTotalBytes: Int64? = nil) {
        self.maxAgeDays = maxAgeDays
        self.maxTotalBytes = maxTotalBytes
    }
}

/// What one retention pass did.
public struct RetentionReport: Sendable {
    /// How many day files were deleted.
    public var filesDeleted = 0
    /// The total size of the deleted day files.
    public var bytesDeleted: Int64 = 0
    /// The size of the day files left.
    public var bytesKept: Int64 = 0
    /// The first failure (listing a directory, deleting a file); the pass goes on past it.
    public var firstError: SystemError?
}

extension HostStore {
    /// Flushes, then deletes day files older than `retention.maxAgeDays` and then the oldest day files until
    /// their total size is at most `retention.maxTotalBytes`. Host directories left empty are removed.
    /// Only files named `YYYY-MM-DD.log` directly inside a host directory are considered.
    @discardableResult
    public func enforceRetention(today: Int64) -> RetentionReport {
        var report = RetentionReport()
        if let error = flush() { report.firstError = error }
        var found = listDayFiles(&report)
        var keep: [StoredDayFile] = []
        var touchedHosts: Set<String> = []
        for file in found {
            if let maxAge = retention.maxAgeDays, today - file.day >= Int64(maxAge) {
                delete(file, &report)
                touchedHosts.insert(file.hostDirectory)
            } else {
                keep.append(file)
            }
        }
        found = keep
        var total = found.reduce(Int64(0)) { $0 + $1.size }
        if let maxTotal = retention.maxTotalBytes, total > maxTotal {
            found.sort { ($0.day, $0.hostDirectory) < ($1.day, $1.hostDirectory) }
            for file in found where total > maxTotal {
                delete(file, &report)
                touchedHosts.insert(file.hostDirectory)
                total -= file.size
            }
        }
        report.bytesKept = total
        for host in touchedHosts {
            // Fails with ENOTEMPTY while other days remain; that is the expected case.
            _ = rmdir(hostsDirectory + "/" + host)
        }
        return report
    }

    /// Deletes one day file, closing any descriptor still open on it first.
    private func delete(_ file: StoredDayFile, _ report: inout RetentionReport) {
        closeDescriptors(hostDirectory: file.hostDirectory, day: file.day)
        let path = hostsDirectory + "/" + file.hostDirectory + "/" + dayFileName(file.day)
        if unlink(path) == 0 || errno == ENOENT {
            report.filesDeleted += 1
            report.bytesDeleted += file.size
        } else if report.firstError == nil {
            report.firstError = SystemError("unlink \(path)", errno: errno)
        }
    }

    /// Every `HOST/YYYY-MM-DD.log` under `DIR/hosts` with its size.
    private func listDayFiles(_ report: inout RetentionReport) -> [StoredDayFile] {
        var result: [StoredDayFile] = []
        let hosts: [String]
        switch directoryEntries(hostsDirectory) {
        case .success(let names): hosts = names
        case .failure(let error):
            if report.firstError == nil { report.firstError = error }
            return []
        }
        for host in hosts {
            let hostPath = hostsDirectory + "/" + host
            guard case .success(let names) = directoryEntries(hostPath) else { continue }
            for name in names {
                guard let day = parseDayFileName(name) else { continue }
                var info = stat()
                guard stat(hostPath + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                result.append(StoredDayFile(hostDirectory: host, day: day, size: Int64(info.st_size)))
            }
        }
        return result
    }
}

/// A day file found on disk.
struct StoredDayFile {
    var hostDirectory: String
    var day: Int64
    var size: Int64
}

/// The day count of a `YYYY-MM-DD.log` file name, nil for any other name or an impossible date.
public func parseDayFileName(_ name: String) -> Int64? {
    let bytes = Array(name.utf8)
    guard bytes.count == 14, bytes[10...].elementsEqual(".log".utf8) else { return nil }
    return CivilDateTime.epochDay(isoDate: bytes[0..<10])
}

/// The names in a directory, without `.` and `..`.
public func directoryEntries(_ path: String) -> Result<[String], SystemError> {
    guard let dir = opendir(path) else { return .failure(SystemError("opendir \(path)", errno: errno)) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return .success(names)
}
