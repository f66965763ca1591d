import { strict as assert } from "node:assert";
import { test } from "node:test";
import { agentCommand, serverAddress, shellWord } from "./agent";

test("the install host wins over the page's origin, and gets a scheme", () => {
  assert.equal(serverAddress("", "http://127.0.0.1:8902"), "http://127.0.0.1:8902");
  assert.equal(serverAddress("monitor.example:8902", "http://x"), "http://monitor.example:8902");
  assert.equal(serverAddress("https://m.example/", "http://x"), "https://m.example");
});

test("the command quotes what the shell would split", () => {
  assert.equal(shellWord("abc-DEF_1"), "abc-DEF_1");
  assert.equal(shellWord("a b'c"), `'a b'\\''c'`);
  assert.equal(agentCommand("http://h:1", "s3cr3t"), "pip install heron && heron agent --server http://h:1 --secret s3cr3t");
});
