import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { DEFAULT_SECRET_FIELDS, MASK, compileSecretMasker, formatHeaderRaw, headerText, measureHeaderBytes } from './build-record.js';

/** Sends `head` as raw bytes to a loopback HTTP server and returns the request as Node parsed it. */
async function parseHead(head: Buffer): Promise<IncomingMessage> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const received = new Promise<IncomingMessage>((resolve) => {
      server.once('request', (request: IncomingMessage, response) => {
        resolve(request);
        response.end();
      });
    });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.write(head);
    const request = await received;
    socket.destroy();
    return request;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('formatHeaderRaw', () => {
  it('joins Name: value lines in arrival order with a backslash and n, not a newline', () => {
    const raw = formatHeaderRaw(['Host', 'api.eu-west-2.outscale.com', 'Accept', '*/*', 'Content-Length', '2']);
    assert.equal(raw, 'Host: api.eu-west-2.outscale.com\\nAccept: */*\\nContent-Length: 2');
    assert.equal(raw.includes('\n'), false);
    assert.equal(raw.split('\\n').length, 3);
  });

  it('replaces the Authorization value with *****, whatever its case', () => {
    const signature = 'OSC4-HMAC-SHA256 Credential=AK/20240101/eu-west-2/api/osc4_request, SignedHeaders=host, Signature=abc';
    assert.equal(formatHeaderRaw(['Authorization', signature]), 'Authorization: *****');
    assert.equal(formatHeaderRaw(['authorization', signature]), 'authorization: *****');
    assert.equal(formatHeaderRaw(['AUTHORIZATION', signature]), 'AUTHORIZATION: *****');
    assert.equal(MASK, '*****');
  });

  it('hides proxy credentials and cookies too', () => {
    assert.equal(formatHeaderRaw(['Proxy-Authorization', 'Basic dXNlcjpwYXNz', 'Cookie', 'session=s3cret']), 'Proxy-Authorization: *****\\nCookie: *****');
  });

  it('keeps the name case and every repeated header as received', () => {
    assert.equal(formatHeaderRaw(['X-Forwarded-For', '192.0.2.1', 'x-forwarded-for', '198.51.100.2']), 'X-Forwarded-For: 192.0.2.1\\nx-forwarded-for: 198.51.100.2');
  });

  it('reproduces the header of the reference example', () => {
    const raw = formatHeaderRaw([
      'Host', 'api.eu-west-2.outscale.com',
      'Accept', '*/*',
      'Connection', 'close',
      'User-Agent', 'oAPI CLI v0.1 - 2018-09-28',
      'X-Osc-Date', '20170510T000000Z',
      'Content-Type', 'application/json; charset=utf-8',
      'Authorization', 'OSC4-HMAC-SHA256 Credential=ABCDEFGHIJ0123456789/20170510/eu-west-2/api/osc4_request, SignedHeaders=host;x-osc-date, Signature=0123',
      'Content-Length', '2',
      'Accept-Encoding', 'gzip, deflate',
      'X-Forwarded-For', '192.0.2.0',
    ]);
    assert.equal(
      raw,
      'Host: api.eu-west-2.outscale.com\\nAccept: */*\\nConnection: close\\nUser-Agent: oAPI CLI v0.1 - 2018-09-28\\nX-Osc-Date: 20170510T000000Z\\nContent-Type: application/json; charset=utf-8\\nAuthorization: *****\\nContent-Length: 2\\nAccept-Encoding: gzip, deflate\\nX-Forwarded-For: 192.0.2.0',
    );
  });

  it('gives an empty text for no headers', () => {
    assert.equal(formatHeaderRaw([]), '');
  });

  it('uses the order Node received the headers in', async () => {
    const request = await parseHead(Buffer.from('POST /api/v1/ReadApiLogs HTTP/1.1\r\nZ-Last: 1\r\nHost: oms\r\nAuthorization: secret\r\nA-First: 2\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(formatHeaderRaw(request.rawHeaders), 'Z-Last: 1\\nHost: oms\\nAuthorization: *****\\nA-First: 2\\nContent-Length: 0');
  });
});

describe('measureHeaderBytes', () => {
  it('counts the request line, each header line with its CRLF, and the blank line', () => {
    const head = 'POST /api/v1/ReadApiLogs HTTP/1.1\r\nHost: oms\r\nContent-Length: 2\r\n\r\n';
    assert.equal(measureHeaderBytes('POST', '/api/v1/ReadApiLogs', '1.1', ['Host', 'oms', 'Content-Length', '2']), Buffer.byteLength(head));
  });

  it('counts a head without headers', () => {
    assert.equal(measureHeaderBytes('GET', '/', '1.0', []), Buffer.byteLength('GET / HTTP/1.0\r\n\r\n'));
  });

  it('counts the Authorization value as received, not as masked', () => {
    const value = 'x'.repeat(300);
    assert.equal(
      measureHeaderBytes('POST', '/', '1.1', ['Authorization', value]) - measureHeaderBytes('POST', '/', '1.1', []),
      'Authorization: '.length + 300 + 2,
    );
  });

  it('equals the bytes of a head Node parsed, non-ASCII header bytes included', async () => {
    const head = Buffer.concat([
      Buffer.from('POST /api/latest/ReadApiLogs?x=1 HTTP/1.1\r\nHost: oms.example.com\r\nUser-Agent: caf'),
      Buffer.from('é ☃', 'utf8'),
      Buffer.from('\r\nX-Osc-Date: 20240101T000000Z\r\nContent-Length: 0\r\n\r\n'),
    ]);
    const request = await parseHead(head);
    assert.equal(measureHeaderBytes(request.method ?? '', request.url ?? '', request.httpVersion, request.rawHeaders), head.length);
  });
});

describe('headerText', () => {
  it('gives UTF-8 header bytes back as the text the client wrote, in QueryHeaderRaw as in the user agent', async () => {
    const head = Buffer.concat([
      Buffer.from('POST / HTTP/1.1\r\nHost: oms\r\nUser-Agent: caf'),
      Buffer.from('é ☃ 😀', 'utf8'),
      Buffer.from('\r\nX-Latin: '),
      Buffer.from([0x63, 0x61, 0x66, 0xe9]),
      Buffer.from('\r\nContent-Length: 0\r\n\r\n'),
    ]);
    const request = await parseHead(head);
    assert.equal(headerText(request.headers['user-agent'] as string), 'café ☃ 😀');
    // Bytes that are not UTF-8 keep one character per byte: 0xE9 is é in ISO-8859-1.
    assert.equal(formatHeaderRaw(request.rawHeaders), 'Host: oms\\nUser-Agent: café ☃ 😀\\nX-Latin: caf\u00e9\\nContent-Length: 0');
    assert.equal(measureHeaderBytes(request.method ?? '', request.url ?? '', request.httpVersion, request.rawHeaders), head.length);
  });

  it('leaves ASCII, and any text whose bytes are not UTF-8, as they are', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const latin1 = Buffer.from(bytes).toString('latin1');
        const decoded = headerText(latin1);
        if (Buffer.from(bytes).toString('utf8') === decoded) assert.ok(Buffer.from(decoded, 'utf8').equals(Buffer.from(bytes)));
        else assert.equal(decoded, latin1);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('compileSecretMasker', () => {
  const mask = compileSecretMasker();

  it('masks Password, SecretKey and PrivateKey string values', () => {
    assert.equal(mask('{"Password":"hunter2"}'), '{"Password":"*****"}');
    assert.equal(mask('{"SecretKey":"abc"}'), '{"SecretKey":"*****"}');
    assert.equal(mask('{"PrivateKey":"-----BEGIN RSA PRIVATE KEY-----\\nMIIB\\n-----END RSA PRIVATE KEY-----"}'), '{"PrivateKey":"*****"}');
  });

  it('masks every default secret field', () => {
    for (const field of DEFAULT_SECRET_FIELDS) {
      assert.equal(mask(`{"${field}":"s3cret"}`), `{"${field}":"*****"}`, field);
    }
    for (const field of ['Password', 'SecretKey', 'PrivateKey']) assert.ok(DEFAULT_SECRET_FIELDS.includes(field));
  });

  it('masks at any depth, in objects and arrays', () => {
    const payload = '{"User":{"Login":{"Password":"p1"}},"Keys":[{"SecretKey":"k1"},{"SecretKey":"k2","Name":"n"}]}';
    assert.equal(mask(payload), '{"User":{"Login":{"Password":"*****"}},"Keys":[{"SecretKey":"*****"},{"SecretKey":"*****","Name":"n"}]}');
  });

  it('masks values holding escaped quotes and backslashes entirely', () => {
    assert.equal(mask('{"Password":"a\\"b\\\\c\\"","Name":"x"}'), '{"Password":"*****","Name":"x"}');
    assert.equal(mask('{"Password":"\\\\","Name":"x"}'), '{"Password":"*****","Name":"x"}');
    assert.equal(mask('{"Password":"\\"},\\"Name\\":\\"x"}'), '{"Password":"*****"}');
  });

  it('masks an empty secret value', () => {
    assert.equal(mask('{"Password":""}'), '{"Password":"*****"}');
  });

  it('masks values with spaces and newlines around the colon', () => {
    assert.equal(mask('{\n  "Password" :\n   "hunter2",\n  "Name": "x"\n}'), '{\n  "Password" :\n   "*****",\n  "Name": "x"\n}');
  });

  it('masks a secret value left unterminated by a truncated body', () => {
    assert.equal(mask('{"Name":"x","Password":"hunter2'), '{"Name":"x","Password":"*****"');
    assert.equal(mask('{"Password":"hunter2\\'), '{"Password":"*****"');
    assert.equal(mask('{"Password":"line1\\\nline2'), '{"Password":"*****"');
  });

  it('leaves fields whose names only contain a secret name', () => {
    const payload = '{"UserPassword":"a","PasswordHint":"b","SecretKeyId":"c","Passwords":"d"}';
    assert.equal(mask(payload), payload);
  });

  it('matches secret names whatever their case', () => {
    assert.equal(mask('{"password":"d","SECRETKEY":"e","privateKey":"f"}'), '{"password":"*****","SECRETKEY":"*****","privateKey":"*****"}');
  });

  it('matches key names written with JSON escapes, as the upstream reads them', () => {
    assert.equal(mask('{"Pass\\u0077ord":"hunter2"}'), '{"Pass\\u0077ord":"*****"}');
    assert.equal(mask('{"\\u0053ecret\\u004bey":"k","Name":"n"}'), '{"\\u0053ecret\\u004bey":"*****","Name":"n"}');
    assert.equal(mask('{"To\\u006ben" : 5}'), '{"To\\u006ben" : "*****"}');
    // A malformed escape in a key is compared as written.
    assert.equal(mask('{"Pass\\uZZZZword":"x"}'), '{"Pass\\uZZZZword":"x"}');
  });

  it('leaves a secret name that appears inside another value', () => {
    const payload = '{"Description":"set \\"Password\\":\\"x\\" later","Tags":["Password"]}';
    assert.equal(mask(payload), payload);
  });

  it('masks secret values of every JSON type, objects and arrays whole', () => {
    assert.equal(
      mask('{"Password":12345678,"SecretKey":true,"Token":null,"PrivateKey":{"Value":"v","Nested":["}",{"a":"]"}]},"Name":"n"}'),
      '{"Password":"*****","SecretKey":"*****","Token":"*****","PrivateKey":"*****","Name":"n"}',
    );
    assert.equal(mask('{"Passphrase":["a","b"], "Next": 1}'), '{"Passphrase":"*****", "Next": 1}');
    assert.equal(mask('{"Password": -1.5e3 }'), '{"Password": "*****" }');
    assert.equal(mask('{\n  "Password": 42\n}'), '{\n  "Password": "*****"\n}');
  });

  it('masks malformed or unterminated secret values to the end rather than keep them', () => {
    assert.equal(mask('{"PrivateKey":{"Value":"v"'), '{"PrivateKey":"*****"');
    assert.equal(mask('{"Password":[1,2'), '{"Password":"*****"');
    assert.equal(mask('{"Password": abc def}'), '{"Password": "*****"}');
    assert.equal(mask('{"Password": abc"d,e"}'), '{"Password": "*****"}');
    assert.equal(mask('{"Password":'), '{"Password":"*****"');
  });

  it('keeps every other byte of the payload', () => {
    const payload = '{ "VmId" : "i-12345678",\t"Password":"p", "Description": "café ☃ \\u00e9", "Count": 1.50e2 }';
    assert.equal(mask(payload), '{ "VmId" : "i-12345678",\t"Password":"*****", "Description": "café ☃ \\u00e9", "Count": 1.50e2 }');
  });

  it('leaves payloads without secrets byte for byte', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        fc.pre(!DEFAULT_SECRET_FIELDS.some((field) => text.toLowerCase().includes(`"${field.toLowerCase()}"`)));
        assert.equal(mask(text), text);
      }),
      { numRuns: 500 },
    );
    assert.equal(mask(''), '');
    assert.equal(mask('not json at all'), 'not json at all');
  });

  it('masks a secret whatever its value and however its key is written, and changes nothing else', () => {
    // A key written with some of its characters as \\uXXXX escapes, in any case.
    const spelled = (field: string) =>
      fc.tuple(fc.array(fc.boolean(), { minLength: field.length, maxLength: field.length }), fc.array(fc.boolean(), { minLength: field.length, maxLength: field.length })).map(([escape, upper]) =>
        [...field].map((ch, k) => {
          const c = upper[k] ? ch.toUpperCase() : ch;
          return escape[k] ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c;
        }).join(''),
      );
    const key = fc.constantFrom(...DEFAULT_SECRET_FIELDS).chain(spelled);
    fc.assert(
      fc.property(fc.jsonValue(), key, fc.jsonValue(), fc.boolean(), (other, rawKey, value, pretty) => {
        const valueText = pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
        const otherText = JSON.stringify(other);
        const text = `{"Before":${otherText},"Nested":[{"${rawKey}":${valueText === undefined ? 'null' : valueText}}],"After":"tail"}`;
        const masked = JSON.parse(mask(text)) as { Before: unknown; Nested: Record<string, unknown>[]; After: string };
        assert.deepEqual(Object.values(masked.Nested[0] ?? {}), [MASK]);
        assert.equal(masked.After, 'tail');
        // Before holds no secret key unless the generator made one; then it is masked too, never kept.
        if (!DEFAULT_SECRET_FIELDS.some((field) => otherText.toLowerCase().includes(`"${field.toLowerCase()}"`))) assert.deepEqual(masked.Before, JSON.parse(otherText));
      }),
      { numRuns: 1_000 },
    );
  });

  it('never leaves a secret string in clear, and changes nothing else, in any JSON document', () => {
    const secret = fc.string({ minLength: 1, maxLength: 20 }).map((s) => `S3CRET${s}`);
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...DEFAULT_SECRET_FIELDS), secret, fc.boolean(), (other, field, value, pretty) => {
        const document = { Before: other, Nested: [{ [field]: value }], After: 'tail' };
        const text = pretty ? JSON.stringify(document, null, 2) : JSON.stringify(document);
        const masked = mask(text);
        assert.equal(masked.includes(JSON.stringify(value).slice(1, -1)), false);
        const expected = JSON.parse(masked) as typeof document;
        assert.deepEqual(expected.Nested, [{ [field]: MASK }]);
        assert.equal(JSON.stringify(expected.After), '"tail"');
      }),
      { numRuns: 500 },
    );
  });

  it('masks only the fields it was compiled for', () => {
    const custom = compileSecretMasker(['ApiToken', 'a.b']);
    assert.equal(custom('{"ApiToken":"t","Password":"p","a.b":"x","aXb":"y"}'), '{"ApiToken":"*****","Password":"p","a.b":"*****","aXb":"y"}');
    assert.equal(compileSecretMasker([])('{"Password":"p"}'), '{"Password":"p"}');
  });

  it('runs in linear time on hostile input', () => {
    const hostile = '{"Password":"' + '\\'.repeat(200_000) + 'x'.repeat(200_000);
    const started = process.hrtime.bigint();
    mask(hostile);
    mask('"Password":'.repeat(50_000));
    assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
  });
});
