// Polls until a condition holds, or fails saying what did not happen.
export async function until(done: () => boolean | Promise<boolean>, what: string, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
