/**
 * Decoding the literals of pickle's opcodes: latin-1 and escaped text (protocol 0's quoted and
 * raw-unicode-escape strings), decimal and two's-complement integers.
 *
 * @example
 * ```ts
 * import { littleEndianSigned } from "./pickle_text.ts";
 * console.log(littleEndianSigned(new Uint8Array([0xff, 0x7f]))); // 32767n
 * ```
 *
 * @module
 */

/** Strict UTF-8 (protocol 1+ str opcodes). */
export const utf8: TextDecoder = new TextDecoder("utf-8", { fatal: true });

/** Decodes bytes as ISO-8859-1 (TextDecoder's "latin1" is really windows-1252). */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let start = 0; start < bytes.length; start += 8192) {
    text += String.fromCharCode(...bytes.subarray(start, start + 8192));
  }
  return text;
}

/** Python's text-protocol ints: decimal with an optional sign (and `L` for LONG). */
export const decimalInt = /^[+-]?[0-9]+$/;

/** Narrows an integer to `number` where that is exact, as `pickle.ts` documents. */
export function toPythonInt(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/**
 * Decodes a two's-complement little-endian integer (LONG1/LONG4). Through a hex string, because
 * shifting a BigInt byte by byte takes time quadratic in its length (minutes for a megabyte).
 */
export function littleEndianSigned(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let hex = "";
  for (let i = bytes.length - 1; i >= 0; i--) hex += bytes[i].toString(16).padStart(2, "0");
  const value = BigInt(`0x${hex}`);
  return bytes[bytes.length - 1] >= 0x80 ? value - (1n << BigInt(8 * bytes.length)) : value;
}

/**
 * Python refuses to convert decimal text of more digits than this to an int (the default of
 * `sys.set_int_max_str_digits`), since the conversion takes quadratic time; so does this reader.
 */
export const MAX_INT_DIGITS = 4300;

/**
 * Decodes protocol 0's raw-unicode-escape text: `\uXXXX`/`\UXXXXXXXX`, other chars as is; `null`
 * for a code point beyond U+10FFFF, which Python refuses too.
 */
export function decodeRawUnicodeEscape(text: string): string | null {
  let valid = true;
  const decoded = text.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_match, short: string | undefined, long: string | undefined) => {
      const codePoint = parseInt(short ?? long ?? "", 16);
      if (codePoint > 0x10ffff) {
        valid = false;
        return "";
      }
      return String.fromCodePoint(codePoint);
    },
  );
  return valid ? decoded : null;
}

/**
 * Decodes the Python `repr` of a byte string (`'abc\n'` or `"it's"`) like `codecs.escape_decode`
 * into a string of byte values (one char per byte); `null` if it is not a quoted literal.
 */
export function decodeQuotedString(text: string): string | null {
  const quote = text[0];
  if (text.length < 2 || (quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) {
    return null;
  }
  const simple: Record<string, string> = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    n: "\n",
    r: "\r",
    t: "\t",
    a: "\x07",
    b: "\b",
    f: "\f",
    v: "\v",
  };
  return text.slice(1, -1).replace(
    /\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|[\s\S])/g,
    (match, escape: string) => {
      if (escape[0] === "x") return String.fromCharCode(parseInt(escape.slice(1), 16));
      if (/^[0-7]/.test(escape)) return String.fromCharCode(parseInt(escape, 8) & 0xff);
      // Python keeps unknown escapes verbatim.
      return Object.hasOwn(simple, escape) ? simple[escape] : match;
    },
  );
}
