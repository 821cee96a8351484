import mongoose from 'mongoose';

/** How long a query waits for a server when MONGODB_URI does not say (the driver's own default is 30 s). */
const SERVER_SELECTION_TIMEOUT_MS = 10_000;

/** Connects mongoose to `uri`: a query waits at most 10 s for a server, unless the URI sets `serverSelectionTimeoutMS`. */
export async function connectMongo(uri: string): Promise<void> {
  const ownTimeout = /[?&]serverSelectionTimeoutMS=/i.test(uri);
  await mongoose.connect(uri, ownTimeout ? {} : { serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS });
}
