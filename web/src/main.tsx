import { render } from 'solid-js/web';

// Placeholder until the live orders page lands (issue 4).
function App() {
  return (
    <main>
      <h1>live-orders</h1>
      <p>The server is running. The live orders page is coming; meanwhile use the REST API at /api/orders or tRPC at /trpc.</p>
    </main>
  );
}

render(() => <App />, document.getElementById('root')!);
