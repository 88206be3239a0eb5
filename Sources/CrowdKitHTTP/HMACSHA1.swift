/// SHA-1 (FIPS 180-4) and HMAC-SHA1 (RFC 2104), small and dependency free, for verifying Webex
/// webhook signatures (`X-Spark-Signature`). SHA-1 is used only because Webex signs with it.
public enum HMACSHA1 {
    /// HMAC-SHA1 of `message` with `key` (20 bytes).
    public static func authenticationCode<K: Collection, M: Collection>(for message: M, key: K) -> [UInt8]
    where K.Element == UInt8, M.Element == UInt8 {
        var keyBytes = Array(key)
        if keyBytes.count > 64 { keyBytes = SHA1.hash(keyBytes) }
        keyBytes += [UInt8](repeating: 0, count: 64 - keyBytes.count)
        let inner = keyBytes.map { $0 ^ 0x36 }
        let outer = keyBytes.map { $0 ^ 0x5c }
        return SHA1.hash(outer + SHA1.hash(inner + Array(message)))
    }

    /// Lower-case hex of the HMAC.
    public static func hex<K: Collection, M: Collection>(for message: M, key: K) -> String
    where K.Element == UInt8, M.Element == UInt8 {
        authenticationCode(for: message, key: key).hexString
    }

    /// Whether `signature` (hex, either case) is the HMAC of `message` with `key`, compared in
    /// constant time (the time does not depend on where the first difference is).
    public static func isValid<K: Collection, M: Collection>(signature: String, for message: M, key: K) -> Bool
    where K.Element == UInt8, M.Element == UInt8 {
        constantTimeEqual(Array(signature.lowercased().utf8), Array(hex(for: message, key: key).utf8))
    }
}

/// Compares two byte strings in time that depends only on the longer one's length (where the
/// first difference is, and whether the lengths differ, does not show).
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<max(a.count, b.count) {
        difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0xff)
    }
    return difference == 0
}

/// SHA-1 (FIPS 180-4).
public enum SHA1 {
    /// The 20-byte digest of `data`.
    public static func hash<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        var message = Array(data)
        let bitLength = UInt64(message.count) &* 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for i in (0..<8).reversed() { message.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: message.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] = UInt32(message[j]) << 24 | UInt32(message[j + 1]) << 16 | UInt32(message[j + 2]) << 8 | UInt32(message[j + 3])
            }
            for i in 16..<80 { w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotl(1) }
            var (a, b, c, d, e) = h
            for i in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let t = a.rotl(5) &+ f &+ e &+ k &+ w[i]
                e = d
                d = c
                c = b.rotl(30)
                b = a
                a = t
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for v in [h.0, h.1, h.2, h.3, h.4] {
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
        }
        return out
    }
}

extension UInt32 {
    @inline(__always) fileprivate func rotl(_ n: UInt32) -> UInt32 { (self << n) | (self >> (32 - n)) }
}
