/** A write stream that keeps what is written: what runCommand prints, for tests to read. */
export class CaptureStream {
  text = "";
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}
