// Activities run as ordinary Node.js code: I/O, clocks and randomness are allowed here.
export async function composeGreeting(name: string): Promise<string> {
  return `Hello, ${name}!`;
}
