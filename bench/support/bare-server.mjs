// The baseline for bench:api: a bare Express 5 route that answers a fixed JSON body of the same
// size as the API page, with no middleware, authentication or database.
import express from 'express';

const port = Number(process.env.PORT);
const body = process.env.BARE_BODY ?? '{"data":[],"next_cursor":null}';
const app = express();
app.get('/bare', (_req, res) => {
  res.type('application/json').send(body);
});
app.listen(port, '127.0.0.1');
